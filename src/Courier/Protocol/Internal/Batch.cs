namespace Courier.Protocol.Internal;

/// <summary>
/// Courier's batch frame (docs/protocol.md §6): many small requests or replies for one peer packed into one frame,
/// <c>"CURB03"</c>, a kind byte, then records of <c>id (8, big-endian) ‖ tag length (1) ‖ tag ‖ body length (4,
/// big-endian) ‖ body</c>. A loop packs what it has ready for one peer when it is about to send anyway, so a batch
/// never waits for more: under load a message carries tens of requests, and ZeroMQ's per-message cost is paid once.
/// </summary>
internal static class Batch
{
    public static readonly byte[] Header = "CURB03"u8.ToArray();

    /// <summary>Client → server/broker: id is the request id, tag the service.</summary>
    public const byte ClientRequest = 0x01;

    /// <summary>Server/broker → client: id is the request id, tag the three-digit status.</summary>
    public const byte ClientReply = 0x02;

    /// <summary>Broker → worker: id is the broker's token, no tag.</summary>
    public const byte WorkerRequest = 0x03;

    /// <summary>Worker → broker: id is the token, tag the three-digit status.</summary>
    public const byte WorkerReply = 0x04;

    /// <summary>
    /// Client → server/broker under courier/5: the client's identity (16 bytes) follows the kind, once; each record's
    /// meta holds attempt, flags, budget and headers (docs/protocol.md §8).
    /// </summary>
    public const byte ClientRequest5 = 0x05;

    /// <summary>Broker → courier/5 worker: each record's tag is its service, its meta the budget and headers.</summary>
    public const byte WorkerRequest5 = 0x07;

    /// <summary>Header and kind.</summary>
    public const int PrefixLength = 7;

    /// <summary>Id, tag length and body length.</summary>
    public const int RecordOverhead = 13;

    /// <summary>The meta length of a record of the courier/5 kinds.</summary>
    public const int MetaOverhead = 2;

    /// <summary>Records of this kind carry meta (<c>meta length (2) ‖ meta</c> between tag and body).</summary>
    public static bool HasMeta(byte kind) => kind is ClientRequest5 or WorkerRequest5;

    /// <summary>A client's courier/5 batch: the client identity follows the kind, once.</summary>
    public static bool HasClient(byte kind) => kind == ClientRequest5;

    /// <summary>Where the records of a batch of this kind start: after the client identity for a courier/5 client's.</summary>
    public static int RecordsStart(byte kind) => HasClient(kind) ? PrefixLength + ClientIdentity.Length : PrefixLength;

    /// <summary>Bodies larger than this go to a peer before courier/7 in messages of their own.</summary>
    public const int MaxBodyLength = 8 * 1024;

    /// <summary>
    /// A batch to a peer before courier/7 is sent before it grows past this (such peers refuse larger ones). A batch
    /// received up to this size is copied once and its records' parts are slices of the copy.
    /// </summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>
    /// Bodies up to this go into batches to courier/7 peers: a 16 KiB body alone wakes every loop on its way, which cost
    /// a third of brokered 16 KiB throughput (docs/performance.md, "Larger batches").
    /// </summary>
    public const int LargeMaxBodyLength = 32 * 1024;

    /// <summary>A batch to a courier/7 peer is sent before it grows past this; no Courier peer sends a larger one.</summary>
    public const int LargeMaxFrameLength = 256 * 1024;

    /// <summary>The bound on a batch frame to a peer that agreed on <paramref name="large"/> batches (courier/7) or not.</summary>
    public static int FrameBound(bool large) => large ? LargeMaxFrameLength : MaxFrameLength;

    /// <summary>
    /// Why a received batch frame of <paramref name="length"/> bytes is refused whole, or null. A frame over
    /// <see cref="MaxFrameLength"/> is read in place and each record's parts are copied on their own (<see cref="Keep"/>),
    /// so that no record pins more than itself; the bound keeps one message's records to what a loop turn handles.
    /// </summary>
    public static string? TooLarge(int length) => length > LargeMaxFrameLength ? $"a batch of {length} bytes, over the {LargeMaxFrameLength} a batch may be" : null;

    /// <summary>
    /// The copy of a received batch frame that its records' parts are slices of, or null for a frame over
    /// <see cref="MaxFrameLength"/>, whose parts are copied each on its own (<see cref="Keep"/>): one small record that
    /// waits must not hold a quarter of a megabyte that its neighbours were counted for.
    /// </summary>
    public static byte[]? SharedCopy(Transport.Internal.MessageFrames message, int index)
        => message.Length(index) <= MaxFrameLength ? message.ToArray(index) : null;

    /// <summary>A record's part to keep: a slice of <paramref name="shared"/> (<see cref="SharedCopy"/>), or a copy of its own.</summary>
    public static ReadOnlyMemory<byte> Keep(byte[]? shared, int offset, ReadOnlySpan<byte> part)
        => shared is null ? part.ToArray() : shared.AsMemory(offset, part.Length);

    public static bool Is(ReadOnlySpan<byte> frame, byte kind)
        => frame.Length >= PrefixLength && frame[6] == kind && frame.StartsWith(Header);

    /// <summary>What a record with an unusable service name is answered (400).</summary>
    public const string InvalidServiceName = "invalid service name (1-255 bytes of printable UTF-8)";

    /// <summary>A client's batch message (<c>envelope…, "", batch</c>): a copy of the envelope, to address replies.</summary>
    public static byte[][] ClientEnvelope(Transport.Internal.MessageFrames message)
    {
        var envelope = new byte[message.Count - 2][];
        for (var i = 0; i < envelope.Length; i++)
        {
            envelope[i] = message.ToArray(i);
        }

        return envelope;
    }

    /// <summary>The well-formed records of a batch frame (those before any malformed one).</summary>
    public static int CountRecords(ReadOnlySpan<byte> frame)
    {
        var reader = new BatchReader(frame);
        var count = 0;
        while (reader.TryRead(out _))
        {
            count++;
        }

        return count;
    }

    /// <summary>True when a body of <paramref name="frames"/> frames, <paramref name="length"/> bytes, may go into a batch to a peer that agreed on <paramref name="large"/> batches or not.</summary>
    public static bool Fits(int frames, int length, bool large) => frames == 1 && length <= (large ? LargeMaxBodyLength : MaxBodyLength);
}
