using System.Buffers.Binary;

namespace Courier.Protocol.Internal;

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
