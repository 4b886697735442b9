using System.Buffers.Binary;

namespace Courier.Protocol.Internal;

/// <summary>One record of a batch frame, as spans of that frame.</summary>
internal readonly ref struct BatchRecord(ulong id, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> body, int bodyOffset, ReadOnlySpan<byte> meta = default, int metaOffset = 0)
{
    public ulong Id { get; } = id;

    public ReadOnlySpan<byte> Tag { get; } = tag;

    /// <summary>What courier/5 kinds carry between tag and body (docs/protocol.md §8); empty for the others.</summary>
    public ReadOnlySpan<byte> Meta { get; } = meta;

    /// <summary>Where the meta starts within the frame, to slice it from a copy of the frame.</summary>
    public int MetaOffset { get; } = metaOffset;

    public ReadOnlySpan<byte> Body { get; } = body;

    /// <summary>Where the body starts within the frame, to slice it from a copy of the frame.</summary>
    public int BodyOffset { get; } = bodyOffset;
}

/// <summary>Reads the records of a batch frame (header included); stops at the first malformed one.</summary>
internal ref struct BatchReader
{
    private readonly ReadOnlySpan<byte> _frame;
    private readonly bool _meta;
    private int _position;

    public BatchReader(ReadOnlySpan<byte> frame)
    {
        _frame = frame;
        var kind = frame.Length > 6 ? frame[6] : (byte)0;
        _meta = Batch.HasMeta(kind);
        _position = Math.Min(frame.Length, Batch.RecordsStart(kind));
        Malformed = _position < Batch.RecordsStart(kind);
    }

    /// <summary>The client identity of a courier/5 client's batch (<see cref="Batch.HasClient"/>).</summary>
    public readonly ClientIdentity Client => _frame.Length >= Batch.PrefixLength + ClientIdentity.Length && Batch.HasClient(_frame[6])
        ? ClientIdentity.Read(_frame[Batch.PrefixLength..])
        : default;

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

        var overhead = Batch.RecordOverhead + (_meta ? Batch.MetaOverhead : 0);
        if (Malformed || rest < overhead)
        {
            Malformed = true;
            return false;
        }

        var span = _frame[_position..];
        var tagLength = span[8];
        if (rest < overhead + tagLength)
        {
            Malformed = true;
            return false;
        }

        var at = 9 + tagLength;
        var metaLength = 0;
        var metaStart = at;
        if (_meta)
        {
            metaLength = BinaryPrimitives.ReadUInt16BigEndian(span[at..]);
            metaStart = at + Batch.MetaOverhead;
            at = metaStart + metaLength;
            if (rest < at + 4)
            {
                Malformed = true;
                return false;
            }
        }

        var bodyLength = BinaryPrimitives.ReadInt32BigEndian(span[at..]);
        var bodyStart = at + 4;
        if (bodyLength < 0 || bodyLength > rest - bodyStart)
        {
            Malformed = true;
            return false;
        }

        record = new BatchRecord(
            BinaryPrimitives.ReadUInt64BigEndian(span),
            span.Slice(9, tagLength),
            span.Slice(bodyStart, bodyLength),
            _position + bodyStart,
            span.Slice(metaStart, metaLength),
            _position + metaStart);
        _position += bodyStart + bodyLength;
        return true;
    }
}
