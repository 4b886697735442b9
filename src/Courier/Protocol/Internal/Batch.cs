using System.Buffers.Binary;

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

    /// <summary>Header and kind.</summary>
    public const int PrefixLength = 7;

    /// <summary>Id, tag length and body length.</summary>
    public const int RecordOverhead = 13;

    /// <summary>Bodies larger than this travel in messages of their own: copying them buys nothing.</summary>
    public const int MaxBodyLength = 8 * 1024;

    /// <summary>A batch is sent before it grows past this, well below any frame limit a peer sets.</summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>The negotiation answer of a peer that accepts batches (and everything of <c>courier/2</c>).</summary>
    public static readonly byte[] ProbeAnswer = "courier/3"u8.ToArray();

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

    /// <summary>True when a body of one frame of <paramref name="length"/> bytes may go into a batch.</summary>
    public static bool Fits(int frames, int length) => frames == 1 && length <= MaxBodyLength;
}

/// <summary>Packs records into one reusable batch frame. Loop thread only.</summary>
internal sealed class BatchWriter
{
    private readonly byte[] _buffer = new byte[Batch.MaxFrameLength];
    private int _length;

    public BatchWriter(byte kind)
    {
        Batch.Header.CopyTo(_buffer, 0);
        _buffer[6] = kind;
        _length = Batch.PrefixLength;
    }

    public int Count { get; private set; }

    /// <summary>The frame so far; valid until the next change.</summary>
    public ReadOnlyMemory<byte> Frame => _buffer.AsMemory(0, _length);

    /// <summary>Adds a record; false when it would not fit (send the batch, reset, add again).</summary>
    public bool TryAdd(ulong id, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> body)
    {
        var size = Batch.RecordOverhead + tag.Length + body.Length;
        if (tag.Length > byte.MaxValue || size > _buffer.Length - _length)
        {
            return false;
        }

        var span = _buffer.AsSpan(_length, size);
        BinaryPrimitives.WriteUInt64BigEndian(span, id);
        span[8] = (byte)tag.Length;
        tag.CopyTo(span[9..]);
        BinaryPrimitives.WriteInt32BigEndian(span[(9 + tag.Length)..], body.Length);
        body.CopyTo(span[(13 + tag.Length)..]);
        _length += size;
        Count++;
        return true;
    }

    /// <summary>The only record, for sending a batch of one in the ordinary one-message form.</summary>
    public BatchRecord Single()
    {
        var reader = new BatchReader(Frame.Span);
        reader.TryRead(out var record);
        return record;
    }

    /// <summary>Part of the frame, such as a record's body (<see cref="BatchRecord.BodyOffset"/>), as memory.</summary>
    public ReadOnlyMemory<byte> Slice(int offset, int length) => _buffer.AsMemory(offset, length);

    public void Reset()
    {
        _length = Batch.PrefixLength;
        Count = 0;
    }
}

/// <summary>One record of a batch frame, as spans of that frame.</summary>
internal readonly ref struct BatchRecord(ulong id, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> body, int bodyOffset)
{
    public ulong Id { get; } = id;

    public ReadOnlySpan<byte> Tag { get; } = tag;

    public ReadOnlySpan<byte> Body { get; } = body;

    /// <summary>Where the body starts within the frame, to slice it from a copy of the frame.</summary>
    public int BodyOffset { get; } = bodyOffset;
}

/// <summary>Reads the records of a batch frame (header included); stops at the first malformed one.</summary>
internal ref struct BatchReader(ReadOnlySpan<byte> frame)
{
    private readonly ReadOnlySpan<byte> _frame = frame;
    private int _position = Batch.PrefixLength;

    /// <summary>True once a record was cut short or the frame had bytes that are not a record.</summary>
    public bool Malformed { get; private set; }

    public bool TryRead(out BatchRecord record)
    {
        record = default;
        var rest = _frame.Length - _position;
        if (rest == 0)
        {
            return false;
        }

        if (rest < Batch.RecordOverhead)
        {
            Malformed = true;
            return false;
        }

        var span = _frame[_position..];
        var tagLength = span[8];
        if (rest < Batch.RecordOverhead + tagLength)
        {
            Malformed = true;
            return false;
        }

        var bodyLength = BinaryPrimitives.ReadInt32BigEndian(span[(9 + tagLength)..]);
        var bodyStart = 13 + tagLength;
        if (bodyLength < 0 || bodyLength > rest - bodyStart)
        {
            Malformed = true;
            return false;
        }

        record = new BatchRecord(
            BinaryPrimitives.ReadUInt64BigEndian(span),
            span.Slice(9, tagLength),
            span.Slice(bodyStart, bodyLength),
            _position + bodyStart);
        _position += bodyStart + bodyLength;
        return true;
    }
}
