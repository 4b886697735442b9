using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A client request held by the broker from arrival until its reply (or error) is sent. Reused once finished
/// (<see cref="Clear"/>, then one of the <c>Set</c> methods), so the forwarding path allocates none per request.
/// </summary>
internal sealed class BrokerRequest
{
    public ulong Token { get; private set; }

    /// <summary>Token as the 8-byte frame plain 7/MDP workers see as the "client address" and echo back; made when sent.</summary>
    public byte[] TokenFrame => TokenBytes(Token);

    /// <summary>Every frame as received; for a batched request, only the envelope (routing id first), shared by the batch.</summary>
    public byte[][] Frames { get; private set; } = [];

    /// <summary>The client's routing id.</summary>
    public byte[] ClientId => Frames[0];

    /// <summary>How the request was parsed; default for a batched request.</summary>
    public ParsedRequest Parsed { get; private set; }

    public bool Batched { get; private set; }

    /// <summary>The client's request id (batched requests; the others carry it in their header frame).</summary>
    public ulong RequestId { get; private set; }

    /// <summary>The one body frame of a batched request, a slice of the batch's one copy.</summary>
    public ReadOnlyMemory<byte> Body { get; private set; }

    public BrokerService Service { get; private set; } = null!;

    /// <summary>Workers that died while holding this request.</summary>
    public int Deaths { get; set; }

    /// <summary>The queue it waits in, and its neighbours there (<see cref="RequestQueue"/>).</summary>
    internal RequestQueue? Queue { get; set; }

    internal BrokerRequest? QueuePrevious { get; set; }

    internal BrokerRequest? QueueNext { get; set; }

    // The frames of this pooled object's last lone request, kept (zeroed) to take the next one's bytes when the lengths
    // match, as a steady workload's do: taking a request in then allocates nothing. Small requests only, so that the
    // pool holds little memory.
    private const int MaxKeptBytes = 1024;
    private byte[][]? _kept;

    /// <summary>
    /// Copies a lone request's frames (routing id first, shared as <paramref name="peerId"/>) into arrays of this
    /// object's own, reusing those of its previous request where the lengths match.
    /// </summary>
    public byte[][] CopyFrames(Courier.Transport.Internal.MessageFrames message, byte[] peerId)
    {
        var frames = _kept is { } kept && kept.Length == message.Count ? kept : new byte[message.Count][];
        _kept = null;
        frames[0] = peerId;
        for (var f = 1; f < frames.Length; f++)
        {
            var length = message.Length(f);
            var frame = frames[f] is { } old && old.Length == length ? old : new byte[length];
            message[f].CopyTo(frame);
            frames[f] = frame;
        }

        return frames;
    }

    /// <summary>A request that came in a message of its own.</summary>
    public BrokerRequest Set(ulong token, byte[][] frames, ParsedRequest parsed, BrokerService service)
    {
        Token = token;
        Frames = frames;
        Parsed = parsed;
        Service = service;
        return this;
    }

    /// <summary>A request that came in a batch (docs/protocol.md §6).</summary>
    public BrokerRequest SetBatched(ulong token, byte[][] envelope, ulong requestId, ReadOnlyMemory<byte> body, BrokerService service)
    {
        Token = token;
        Frames = envelope;
        Batched = true;
        RequestId = requestId;
        Body = body;
        Service = service;
        return this;
    }

    /// <summary>Forgets everything, so a pooled request holds no client's bytes (kept arrays are zeroed).</summary>
    public void Clear()
    {
        if (!Batched)
        {
            Keep(Frames);
        }

        Token = 0;
        Frames = [];
        Parsed = default;
        Batched = false;
        RequestId = 0;
        Body = default;
        Service = null!;
        Deaths = 0;
    }

    /// <summary>Keeps frames from <see cref="CopyFrames"/> that no request took (the message was refused), zeroed.</summary>
    public void Keep(byte[][] frames)
    {
        if (frames.Length < 2 || !KeepableSize(frames))
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

    private static bool KeepableSize(byte[][] frames)
    {
        var total = 0;
        for (var f = 1; f < frames.Length; f++)
        {
            total += frames[f].Length;
        }

        return total <= MaxKeptBytes;
    }

    public static byte[] TokenBytes(ulong token)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, token);
        return bytes;
    }
}

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
internal sealed class BrokerService(string name)
{
    public string Name { get; } = name;

    public byte[] NameFrame { get; } = Encoding.UTF8.GetBytes(name);

    /// <summary>Waiting requests; requests taken back from a dead worker go to the front.</summary>
    public RequestQueue Queue { get; } = new();

    public List<BrokerWorker> Workers { get; } = [];

    public long Served { get; set; }

    public long Errors { get; set; }

    public bool IsIdle => Queue.Count == 0 && Workers.Count == 0 && Served == 0 && Errors == 0;
}
