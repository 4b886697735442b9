using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>A registered worker.</summary>
internal sealed class BrokerWorker(byte[] identity, BrokerService service, int capacity, bool courier, bool batches, long now)
{
    /// <summary>Takes REQUEST batches and may send REPLY batches (docs/protocol.md §6).</summary>
    public bool Batches { get; } = batches;

    /// <summary>REQUESTs packed for it since the loop last sent; made on first use.</summary>
    public BatchWriter? Pending { get; set; }

    public byte[] Identity { get; } = identity;

    public string Id { get; } = Convert.ToHexString(identity);

    public BrokerService Service { get; } = service;

    /// <summary>Requests it may hold at once: 1 for a plain 7/MDP worker, N for a Courier worker that declared N.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Speaks Courier: replies carry a status frame.</summary>
    public bool Courier { get; } = courier;

    public Dictionary<ulong, BrokerRequest> Outstanding { get; } = [];

    public long LastSeen { get; set; } = now;

    /// <summary>Order of the last dispatch, for least-recently-used among equally loaded workers.</summary>
    public long LastDispatch { get; set; }

    /// <summary>Said it is stopping: gets no new requests.</summary>
    public bool Draining { get; set; }

    public long Served { get; set; }

    public bool HasRoom => !Draining && Outstanding.Count < Capacity;
}

/// <summary>A named service: its queue of waiting requests and its workers.</summary>
internal sealed class BrokerService(string name, long noWorkersSince)
{
    /// <summary>When its last worker left (or the broker started, if it never had one); meaningless while it has workers.</summary>
    public long NoWorkersSince { get; set; } = noWorkersSince;

    public string Name { get; } = name;

    public byte[] NameFrame { get; } = Encoding.UTF8.GetBytes(name);

    /// <summary>Waiting requests; requests taken back from a dead worker go to the front.</summary>
    public RequestQueue Queue { get; } = new();

    public List<BrokerWorker> Workers { get; } = [];

    public long Served { get; set; }

    public long Errors { get; set; }

    public bool IsIdle => Queue.Count == 0 && Workers.Count == 0 && Served == 0 && Errors == 0;
}
