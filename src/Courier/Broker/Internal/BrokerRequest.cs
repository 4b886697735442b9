using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A client request held by the broker from arrival until its reply (or error) is sent: the decoded request and what the
/// broker adds (its token, its service, the workers that died holding it). Reused once finished, with its
/// <see cref="InboundRequest"/>, so the forwarding path allocates none per request.
/// </summary>
internal sealed class BrokerRequest : Serving.Internal.IRunningRequest
{
    public ulong Token { get; private set; }

    /// <summary>Token as the 8-byte frame plain 7/MDP workers see as the "client address" and echo back; made when sent.</summary>
    public byte[] TokenFrame => TokenBytes(Token);

    public InboundRequest Inbound { get; private set; } = null!;

    /// <summary>The client whose lane it waits in (<see cref="LaneKey"/>).</summary>
    public byte[] ClientId => _laneKey ??= LaneKey(Inbound);

    public BrokerService Service { get; private set; } = null!;

    /// <summary>Stopwatch timestamp of its arrival, when measured (a listener, or someone watching <c>mmi.stats</c>); else 0.</summary>
    public long ArrivedAt { get; set; }

    /// <summary>Stopwatch timestamp of its (latest) entry into the queue, when measured; else 0.</summary>
    public long QueuedAt { get; set; }

    /// <summary>Its span in the broker, when a listener samples one.</summary>
    public System.Diagnostics.Activity? Activity { get; set; }

    /// <summary>
    /// The headers a courier/5 worker gets instead of the client's, while <see cref="Activity"/> exists: the same, with a
    /// <c>traceparent</c> naming the broker's span (so the worker's span is its child). Null: forward the client's.
    /// </summary>
    public byte[]? ForwardHeaders { get; set; }

    /// <summary>The header block a courier/5 worker is sent.</summary>
    public ReadOnlySpan<byte> WorkerHeaders => ForwardHeaders is { } forwarded ? forwarded : Inbound.Delivery.Headers.Span;

    /// <summary>When its budget runs out (the broker's clock), or <see cref="long.MaxValue"/> for a request without one.</summary>
    public long Deadline { get; set; } = long.MaxValue;

    /// <summary>The budget left, in milliseconds, as of the last <see cref="Deadline"/> check (0 for none): what a worker is told.</summary>
    public uint BudgetMs { get; set; }

    /// <summary>The worker registration holding it, while one does (null while queued or orphaned).</summary>
    public BrokerWorker? Holder { get; set; }

    /// <summary>Kept in the broker's at-most-once ledger under <see cref="Key"/> (courier/5).</summary>
    public bool Tracked => !Key.Client.IsNone;

    /// <summary>
    /// Its key in the at-most-once ledger (courier/5), kept here because its <see cref="Inbound"/> is cleared as soon as
    /// it is answered, before the ledger lets go of it; default when untracked.
    /// </summary>
    public RequestKey Key { get; private set; }

    /// <summary>Enters it in the at-most-once ledger under <paramref name="key"/>.</summary>
    public void Track(RequestKey key) => Key = key;

    /// <summary>When an orphaned request (its worker stalled) is answered 520 if no late reply came; 0 when not orphaned.</summary>
    public long OrphanedUntil { get; set; }

    /// <summary>The worker connection it was orphaned by (<see cref="ServiceTable.Orphan"/>): the only one whose late reply it takes.</summary>
    public WorkerPeer? OrphanOf { get; set; }

    /// <summary>Its caller cancelled it while a worker held it (a courier/5 worker is told, an older one cannot be): never given to another worker.</summary>
    public bool Cancelled { get; set; }

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

    private byte[]? _laneKey;

    /// <summary>
    /// Who a request counts against in fair queueing: a courier/5 client by its identity, the same on all its connections
    /// (a client that reconnects after a refusal is not a newcomer who may displace its own earlier requests); any other
    /// by its routing id. Under CURVE a courier/5 client goes by its key instead: one key could draw any number of
    /// identities. Others keep their routing id under CURVE too, by which a client's disconnect finds what it had queued
    /// (<see cref="ServiceTable.OnClientGone"/>). The identity key
    /// is a zero byte and the 16 identity bytes, a CURVE key's two zero bytes and its Z85 text: a peer cannot choose a
    /// routing id that starts with zero (those are the transport's own), so no routing id can pose as either.
    /// </summary>
    public static byte[] LaneKey(InboundRequest inbound)
    {
        if (inbound.UserId is { } userId && !inbound.Delivery.Client.IsNone)
        {
            var keyed = new byte[2 + System.Text.Encoding.UTF8.GetByteCount(userId)];
            System.Text.Encoding.UTF8.GetBytes(userId, keyed.AsSpan(2));
            return keyed;
        }

        if (inbound.Delivery.Client.IsNone)
        {
            return inbound.Route.ClientId;
        }

        var key = new byte[1 + ClientIdentity.Length];
        inbound.Delivery.Client.Write(key.AsSpan(1));
        return key;
    }

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
        _laneKey = null;
        Inbound = null!;
        Service = null!;
        Deaths = 0;
        ArrivedAt = 0;
        QueuedAt = 0;
        Activity = null;
        ForwardHeaders = null;
        Bytes = 0;
        Deadline = long.MaxValue;
        BudgetMs = 0;
        Holder = null;
        Key = default;
        OrphanedUntil = 0;
        OrphanOf = null;
        Cancelled = false;
    }

    /// <summary>Roughly what a waiting request holds: the objects that carry it, its envelope and its body.</summary>
    public static long SizeOf(InboundRequest inbound)
    {
        const int Overhead = 256;
        var route = inbound.Route;
        long size = Overhead + inbound.BodySize + (long)(inbound.BodyCount + route.EnvelopeLength) * Courier.Internal.FrameCost.Managed;
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
