using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A worker's connection to the broker, one routing id: what it speaks, its name, when it was last heard from, the
/// requests packed for it this turn, and the services it registered on it (one, or several under courier/4).
/// Heartbeats, liveness and removal are per connection: a dead connection takes all its services with it.
/// </summary>
internal sealed class WorkerPeer(byte[] identity, WorkerCapability capability, long now)
{
    public byte[] Identity { get; } = identity;

    /// <summary>The routing id in hex: unique while connected, and all a stock worker is known by.</summary>
    public string Id { get; } = Convert.ToHexString(identity);

    /// <summary>What it is called in logs and <c>mmi.workers</c>: the name it declared (courier/4), else its <see cref="Id"/>.</summary>
    public string Name { get; } = capability.Name ?? Convert.ToHexString(identity);

    /// <summary>Speaks Courier: replies carry a status frame.</summary>
    public bool Courier { get; } = capability.Courier;

    /// <summary>Takes REQUEST batches and may send REPLY batches (docs/protocol.md §6).</summary>
    public bool Batches { get; } = capability.Batches;

    /// <summary>Registered under courier/7: its batches may be as large as <see cref="Protocol.Internal.Batch.LargeMaxFrameLength"/>.</summary>
    public bool LargeBatches { get; } = capability.LargeBatches;

    /// <summary>Registered under courier/5: REQUESTs carry budget and headers, REPLYs may carry headers, CANCEL.</summary>
    public bool Delivery { get; } = capability.Delivery;

    /// <summary>Registered under courier/4: may register more services, and its REQUESTs name their service.</summary>
    public bool MultiService { get; } = capability.MultiService;

    /// <summary>Registered under courier/6: a DISCONNECT that ends "drained" means what it still holds never ran.</summary>
    public bool SaysDrained { get; } = capability.SaysDrained;

    /// <summary>The services it registered, in the order it did.</summary>
    public List<BrokerWorker> Registrations { get; } = [];

    /// <summary>The CURVE key the connection was admitted with (ZAP User-Id), or null without security.</summary>
    public string? UserId { get; init; }

    /// <summary>REQUESTs packed for it since the loop last sent; made on first use.</summary>
    public BatchWriter? Pending { get; set; }

    public long LastSeen { get; set; } = now;

    /// <summary>Said it is stopping (a 503 reply under courier/6, where full is 429): none of its services gets new requests.</summary>
    public bool Draining { get; set; }

    /// <summary>The requests packed in <see cref="Pending"/>, each with its token then.</summary>
    public List<(BrokerRequest Request, ulong Token)> PendingRequests { get; } = [];

    /// <summary>A send to it was refused (it has not read what it was sent, or is gone): nothing new until the broker's next tick.</summary>
    public bool Backlogged { get; set; }

    /// <summary>When sends to it began to be refused, without one taken since; 0 while they are taken.</summary>
    public long BehindSince { get; set; }

    /// <summary>The broker tick (<see cref="WorkerBacklog"/>'s count) of the last refused send to it.</summary>
    public long LastRefusedTick { get; set; }

    /// <summary>The registry let it go (it is never taken back: a worker that registers again is a new peer).</summary>
    public bool Removed { get; set; }

    /// <summary>Its registration for <paramref name="service"/>, or null.</summary>
    public BrokerWorker? For(BrokerService service)
    {
        foreach (var registration in Registrations)
        {
            if (ReferenceEquals(registration.Service, service))
            {
                return registration;
            }
        }

        return null;
    }

    /// <summary>Takes the request <paramref name="token"/> from whichever of its services holds it; false when none does.</summary>
    public bool TryTake(ulong token, out BrokerWorker holder, out BrokerRequest request)
    {
        foreach (var registration in Registrations)
        {
            if (registration.Outstanding.Remove(token, out request!))
            {
                holder = registration;
                return true;
            }
        }

        holder = null!;
        request = null!;
        return false;
    }

    /// <summary>The names of its services, for log lines.</summary>
    public string ServiceNames => string.Join(", ", Registrations.Select(r => r.Service.Name));
}
