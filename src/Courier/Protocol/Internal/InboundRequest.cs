namespace Courier.Protocol.Internal;

/// <summary>
/// One client request, decoded once at the edge whatever its framing (REQ, 7/MDP, Courier, a Courier batch's record):
/// its <see cref="Route"/>, service and body. A request of its own message owns copies of its frames; a batch's record
/// shares the batch's envelope and one copy of the batch frame, its body a slice of it. Loop thread only.
/// </summary>
internal sealed class InboundRequest(bool reuseArrays, HashSet<InboundRequest>? holders = null)
{
    // A pooled request keeps the frames of its last lone request (zeroed) to take the next one's bytes when the lengths
    // match, as a steady workload's do: taking a request in then allocates nothing. Small requests only, so that a pool
    // holds little memory. Only for requests whose bytes user code never sees (the broker's).
    private const int MaxKeptBytes = 1024;
    private readonly bool _reuseArrays = reuseArrays;

    // Where a request that holds large frames is listed while it holds them, so that its owner can give them back when it
    // stops with the request unanswered (a broker's queued and outstanding requests). Null where a handler borrows them.
    private readonly HashSet<InboundRequest>? _holders = holders;
    private byte[][]? _kept;
    private byte[][] _frames = [];

    // Body frames the transport received as large frames of its own, taken as they are instead of copied, by frame
    // index; their places in _frames are empty. A server's handler borrows them until its reply is sent; a broker only
    // passes them on. Disposed by Clear, with the first attempt's (_original) once a later attempt's route was taken.
    private System.Buffers.MemoryManager<byte>?[]? _large;
    private System.Buffers.MemoryManager<byte>?[]? _original;
    private int _bodyStart;
    private ReadOnlyMemory<byte> _slice;
    private bool _sliced;

    public ReplyRoute Route { get; private set; }

    /// <summary>The service asked for; null when the request is malformed (see <see cref="Error"/>).</summary>
    public string? Service { get; private set; }

    /// <summary>
    /// Who sent it, as the ZAP handler vouched at the CURVE handshake (the client's public key, Z85); null without CURVE.
    /// </summary>
    public string? UserId { get; set; }

    /// <summary>Why the request cannot be served as sent (answered 400), or null.</summary>
    public string? Error { get; private set; }

    /// <summary>What courier/5 added (identity, attempt, flags, budget, headers); default before courier/5.</summary>
    public Delivery Delivery { get; private set; }

    /// <summary>When the request arrived (the owner's clock), from which its budget counts; 0 when unset.</summary>
    public long ArrivedAt { get; set; }

    /// <summary>The key at-most-once remembers it by; only for requests with a client identity.</summary>
    public RequestKey Key => new(Delivery.Client, Route.RequestId);

    public int BodyCount => _sliced ? 1 : Math.Max(0, _frames.Length - _bodyStart);

    public ReadOnlyMemory<byte> Body(int index)
        => _sliced ? _slice : _large?[_bodyStart + index] is { } large ? large.Memory : _frames[_bodyStart + index];

    /// <summary>The first body frame, or empty: an 8/MMI query's argument.</summary>
    public ReadOnlySpan<byte> FirstBody => BodyCount > 0 ? Body(0).Span : default;

    public long BodySize
    {
        get
        {
            long size = 0;
            for (var i = 0; i < BodyCount; i++)
            {
                size += Body(i).Length;
            }

            return size;
        }
    }

    /// <summary>
    /// The body as an array of its own, for a handler (no bytes copied): large frames are lent, valid until this request
    /// is cleared, after its reply is sent.
    /// </summary>
    public ReadOnlyMemory<byte>[] BodyArray()
    {
        var body = new ReadOnlyMemory<byte>[BodyCount];
        for (var i = 0; i < body.Length; i++)
        {
            body[i] = Body(i);
        }

        return body;
    }

    /// <summary>Adds the body frames to <paramref name="frames"/>, for forwarding.</summary>
    public void AddBodyTo(List<ReadOnlyMemory<byte>> frames)
    {
        for (var i = 0; i < BodyCount; i++)
        {
            frames.Add(Body(i));
        }
    }

    /// <summary>
    /// Copies a message's frames (routing id first, shared as <paramref name="peerId"/>) into arrays of this request's own,
    /// reusing those of its previous request where allowed and the lengths match. Returns them for decoding.
    /// </summary>
    public byte[][] TakeFrames(Transport.Internal.MessageFrames message, byte[] peerId)
    {
        var frames = _kept is { } kept && kept.Length == message.Count ? kept : new byte[message.Count][];
        _kept = null;
        frames[0] = peerId;
        // Only body frames are taken as they came: decoding reads every frame before the body, never the body's bytes.
        var bodyStart = ClientRequestDecoder.BodyStart(message);
        for (var f = 1; f < frames.Length; f++)
        {
            if (f >= bodyStart && message.IsOwned(f))
            {
                (_large ??= new System.Buffers.MemoryManager<byte>?[frames.Length])[f] = message.Detach(f);
                frames[f] = [];
                continue;
            }

            var length = message.Length(f);
            var frame = frames[f] is { } old && old.Length == length ? old : length == 0 ? [] : new byte[length];
            message[f].CopyTo(frame);
            frames[f] = frame;
        }

        if (_large is not null)
        {
            _holders?.Add(this);
        }

        return frames;
    }

    /// <summary>A request of its own message: <paramref name="frames"/> from <see cref="TakeFrames"/>.</summary>
    public InboundRequest Set(byte[][] frames, in ReplyRoute route, string? service, int bodyStart, string? error, in Delivery delivery = default)
    {
        _frames = frames;
        _bodyStart = bodyStart;
        _sliced = false;
        Route = route;
        Service = service;
        Error = error;
        Delivery = delivery;
        return this;
    }

    /// <summary>Marks a decoded request as one that cannot be served as sent: it is answered 400 with <paramref name="error"/>.</summary>
    public void Reject(string error) => Error = error;

    /// <summary>A record of a batch: the batch's shared envelope, the record's id, service and body slice.</summary>
    public InboundRequest SetRecord(byte[][] envelope, ulong requestId, string? service, ReadOnlyMemory<byte> body, string? error, in Delivery delivery = default)
    {
        _frames = [];
        _slice = body;
        _sliced = true;
        Route = new ReplyRoute(envelope, envelope.Length, ClientFraming.CourierBatch, requestId, null, takesHeaders: !delivery.Client.IsNone, (delivery.Flags & DeliveryFlags.LargeReplies) != 0);
        Service = service;
        Error = error;
        Delivery = delivery;
        return this;
    }

    /// <summary>Binds the request's client identity to <see cref="UserId"/> (<see cref="ClientIdentity.BoundTo"/>), when CURVE vouched for one.</summary>
    public void BindClientToUser()
    {
        if (UserId is { } userId && !Delivery.Client.IsNone)
        {
            Delivery = Delivery with { Client = Delivery.Client.BoundTo(userId) };
        }
    }

    /// <summary>Takes the route (and so the reply address) of <paramref name="attempt"/>, a later attempt of this same request.</summary>
    public void TakeRouteOf(InboundRequest attempt)
    {
        // The later attempt's envelope may be its own frames: keep them alive with it by swapping wholesale.
        (_frames, attempt._frames) = (attempt._frames, _frames);
        (_large, attempt._large) = (attempt._large, _large);
        if (_original is null && attempt._large is { } first)
        {
            // The first attempt's body is the one its handler was given: it stays until this request goes. Bodies of
            // later attempts displaced in turn go with their attempt at once (libzmq holds its own reference to what it
            // still sends), so repeating a request costs no more than one body however often it is repeated.
            _original = first;
            attempt._large = null;
        }

        Listed();
        attempt.Listed();
        (_bodyStart, attempt._bodyStart) = (attempt._bodyStart, _bodyStart);
        (_slice, attempt._slice) = (attempt._slice, _slice);
        (_sliced, attempt._sliced) = (attempt._sliced, _sliced);
        (Route, attempt.Route) = (attempt.Route, Route);
        (Delivery, attempt.Delivery) = (attempt.Delivery, Delivery);
    }

    /// <summary>Forgets the request, so that a pooled object holds no client's bytes (kept arrays are zeroed).</summary>
    public void Clear()
    {
        if (_large is not null || _original is not null)
        {
            new Transport.Internal.LentFrames(_large).Dispose();
            new Transport.Internal.LentFrames(_original).Dispose();
            _large = null;
            _original = null;
            _holders?.Remove(this);
        }
        else if (_reuseArrays && !_sliced)
        {
            Keep(_frames);
        }

        _frames = [];
        _slice = default;
        _sliced = false;
        Route = default;
        Service = null;
        Error = null;
        Delivery = default;
        ArrivedAt = 0;
        UserId = null;
    }

    /// <summary>Listed among the holders of large frames exactly while it holds some.</summary>
    private void Listed()
    {
        if (_large is null && _original is null)
        {
            _holders?.Remove(this);
        }
        else
        {
            _holders?.Add(this);
        }
    }

    private void Keep(byte[][] frames)
    {
        if (frames.Length < 2)
        {
            return;
        }

        // The arrays count too: a request of many empty frames holds little in bytes and much in arrays.
        var total = frames.Length * Courier.Internal.FrameCost.Managed;
        for (var f = 1; f < frames.Length; f++)
        {
            total += frames[f].Length;
        }

        if (total > MaxKeptBytes)
        {
            return;
        }

        frames[0] = null!; // the shared routing id is not ours to keep
        for (var f = 1; f < frames.Length; f++)
        {
            Array.Clear(frames[f]);
        }

        _kept = frames;
    }
}
