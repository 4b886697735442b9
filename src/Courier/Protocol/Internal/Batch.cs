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

    /// <summary>Where the records of a batch of this kind start: after the client identity for <see cref="ClientRequest5"/>.</summary>
    public static int RecordsStart(byte kind) => kind == ClientRequest5 ? PrefixLength + ClientIdentity.Length : PrefixLength;

    /// <summary>Bodies larger than this travel in messages of their own: copying them buys nothing.</summary>
    public const int MaxBodyLength = 8 * 1024;

    /// <summary>A batch is sent before it grows past this, well below any frame limit a peer sets.</summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>
    /// Why a received batch frame of <paramref name="length"/> bytes is refused whole, or null: every record's body is a
    /// slice of one copy of it, and one past the bound (what no Courier peer sends) would pin its whole size behind each
    /// small record for as long as that one waits or runs.
    /// </summary>
    public static string? TooLarge(int length) => length > MaxFrameLength ? $"a batch of {length} bytes, over the {MaxFrameLength} a batch may be" : null;

    public static bool Is(ReadOnlySpan<byte> frame, byte kind)
        => frame.Length >= PrefixLength && frame[6] == kind && frame.StartsWith(Header);

    /// <summary>What a record with an unusable service name is answered (400).</summary>
    public const string InvalidServiceName = "invalid service name (1-255 bytes of printable UTF-8)";

    /// <summary>
    /// A client's batch message (<c>envelope…, "", batch</c>) taken apart: the envelope, to address replies, and one
    /// copy of the batch frame, which the requests' bodies are slices of.
    /// </summary>
    public static (byte[][] Envelope, byte[] Data) TakeClientBatch(Transport.Internal.MessageFrames message)
    {
        var envelope = new byte[message.Count - 2][];
        for (var i = 0; i < envelope.Length; i++)
        {
            envelope[i] = message.ToArray(i);
        }

        return (envelope, message.ToArray(message.Count - 1));
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

    /// <summary>True when a body of one frame of <paramref name="length"/> bytes may go into a batch.</summary>
    public static bool Fits(int frames, int length) => frames == 1 && length <= MaxBodyLength;
}
