using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A client request held by the broker from arrival until its reply (or error) is sent: the decoded request and what the
/// broker adds (its token, its service, the workers that died holding it). Reused once finished, with its
/// <see cref="InboundRequest"/>, so the forwarding path allocates none per request.
/// </summary>
internal sealed class BrokerRequest
{
    public ulong Token { get; private set; }

    /// <summary>Token as the 8-byte frame plain 7/MDP workers see as the "client address" and echo back; made when sent.</summary>
    public byte[] TokenFrame => TokenBytes(Token);

    public InboundRequest Inbound { get; private set; } = null!;

    /// <summary>The client's routing id.</summary>
    public byte[] ClientId => Inbound.Route.ClientId;

    public BrokerService Service { get; private set; } = null!;

    /// <summary>Stopwatch timestamp of its arrival, when measured (a listener, or someone watching <c>mmi.stats</c>); else 0.</summary>
    public long ArrivedAt { get; set; }

    /// <summary>Stopwatch timestamp of its (latest) entry into the queue, when measured; else 0.</summary>
    public long QueuedAt { get; set; }

    /// <summary>Its span in the broker, when a listener samples one.</summary>
    public System.Diagnostics.Activity? Activity { get; set; }

    /// <summary>When its budget runs out (the broker's clock), or <see cref="long.MaxValue"/> for a request without one.</summary>
    public long Deadline { get; set; } = long.MaxValue;

    /// <summary>The budget left, in milliseconds, as of the last <see cref="Deadline"/> check (0 for none): what a worker is told.</summary>
    public uint BudgetMs { get; set; }

    /// <summary>The worker registration holding it, while one does (null while queued or orphaned).</summary>
    public BrokerWorker? Holder { get; set; }

    /// <summary>Kept in the broker's at-most-once ledger under its <see cref="InboundRequest.Key"/> (courier/5).</summary>
    public bool Tracked { get; set; }

    /// <summary>When an orphaned request (its worker stalled) is answered 520 if no late reply came; 0 when not orphaned.</summary>
    public long OrphanedUntil { get; set; }

    /// <summary>Workers that died while holding this request.</summary>
    public int Deaths { get; set; }

    /// <summary>
    /// What it costs the broker while it waits: its body and envelope, and a fixed share for the objects that hold it.
    /// Counted against <see cref="CourierBrokerOptions.MaxQueuedBytes"/>.
    /// </summary>
    public long Bytes { get; private set; }

    /// <summary>The lane it waits in, and its neighbours there (<see cref="RequestQueue"/>).</summary>
    internal ClientLane? Lane { get; set; }

    internal BrokerRequest? QueuePrevious { get; set; }

    internal BrokerRequest? QueueNext { get; set; }

    public BrokerRequest Set(ulong token, InboundRequest inbound, BrokerService service)
    {
        Token = token;
        Inbound = inbound;
        Service = service;
        Bytes = SizeOf(inbound);
        return this;
    }

    /// <summary>Forgets everything; its <see cref="Inbound"/> went back to the front end.</summary>
    public void Clear()
    {
        Token = 0;
        Inbound = null!;
        Service = null!;
        Deaths = 0;
        ArrivedAt = 0;
        QueuedAt = 0;
        Activity = null;
        Bytes = 0;
        Deadline = long.MaxValue;
        BudgetMs = 0;
        Holder = null;
        Tracked = false;
        OrphanedUntil = 0;
    }

    /// <summary>Roughly what a waiting request holds: the objects that carry it, its envelope and its body.</summary>
    public static long SizeOf(InboundRequest inbound)
    {
        const int Overhead = 256;
        long size = Overhead + inbound.BodySize;
        var route = inbound.Route;
        for (var i = 0; i < route.EnvelopeLength; i++)
        {
            size += route.Envelope[i].Length;
        }

        return size;
    }

    public static byte[] TokenBytes(ulong token)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, token);
        return bytes;
    }
}
