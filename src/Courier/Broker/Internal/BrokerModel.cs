using System.Text;

namespace Courier.Broker.Internal;

/// <summary>
/// One service registered by a worker: what dispatch weighs. A worker's connection (<see cref="WorkerPeer"/>) carries
/// one of these per service it registered (several only under courier/4), each with its own capacity and its own
/// requests outstanding, so that least-loaded dispatch and capacity work per service.
/// </summary>
internal sealed class BrokerWorker(WorkerPeer peer, BrokerService service, int capacity, bool idempotent = false)
{
    /// <summary>Declared idempotent at READY (courier/5): its requests may go to another worker if it dies or stalls.</summary>
    public bool Idempotent { get; } = idempotent;

    public WorkerPeer Peer { get; } = peer;

    public BrokerService Service { get; } = service;

    /// <summary>Requests of this service it may hold at once: 1 for a plain 7/MDP worker, N for a Courier worker that declared N.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Requests of this service it holds, by token.</summary>
    public Dictionary<ulong, BrokerRequest> Outstanding { get; } = [];

    /// <summary>Order of the last dispatch, for least-recently-used among equally loaded workers.</summary>
    public long LastDispatch { get; set; }

    public long Served { get; set; }

    /// <summary>
    /// Requests of this service it may hold now: its <see cref="Capacity"/>, but less once it answered 429 (it held all
    /// it could, whatever it declared: handlers of a connection it lost still run), then as many as it held. It grows by
    /// one at each of its answers and each broker tick while it is reached, back to the capacity: a worker that keeps
    /// answering 429 is sent one request more per answer or tick, never its whole capacity again.
    /// </summary>
    public int Room { get; set; } = capacity;

    public bool HasRoom => !Peer.Draining && !Peer.Backlogged && Outstanding.Count < Room;
}

/// <summary>A named service: its queue of waiting requests and its workers.</summary>
internal sealed class BrokerService(string name, long noWorkersSince, QueueLedger ledger)
{
    /// <summary>When its last worker left (or the broker started, if it never had one); meaningless while it has workers.</summary>
    public long NoWorkersSince { get; set; } = noWorkersSince;

    public string Name { get; } = name;

    public byte[] NameFrame { get; } = Encoding.UTF8.GetBytes(name);

    /// <summary>Waiting requests; requests taken back from a dead worker go to the front.</summary>
    public RequestQueue Queue { get; } = new(ledger);

    public List<BrokerWorker> Workers { get; } = [];

    /// <summary>The worker given its last request (null once that worker left), for <see cref="CourierBrokerOptions.DispatchAffinity"/>.</summary>
    public BrokerWorker? LastAssigned { get; set; }

    /// <summary>The broker loop's turn in which <see cref="LastAssigned"/> was given it.</summary>
    public long LastAssignedTurn { get; set; } = -1;

    public long Served { get; set; }

    public long Errors { get; set; }

    /// <summary>Requests taken back from workers that died, stopped or had no room (429).</summary>
    public long Requeued { get; set; }

    /// <summary>Recent arrival-to-answer times, recorded while measured (<see cref="ServiceTable"/>); made on the first.</summary>
    public Diagnostics.Internal.LatencyWindow? Latency { get; set; }

    /// <summary>No worker and nothing waiting: forgotten once that has lasted (<see cref="CourierBrokerOptions.IdleServiceTimeout"/>).</summary>
    public bool IsIdle => Queue.Count == 0 && Workers.Count == 0;

    /// <summary>Its place in the broker's list of services without a worker (ServiceDirectory); null while it has one.</summary>
    public LinkedListNode<BrokerService>? Workerless { get; set; }
}
