using System.Buffers;
using System.Buffers.Binary;

namespace Courier.Protocol.Internal;

/// <summary>Writes the ordinary header of a record that goes alone (docs/protocol.md §6: a batch of one is not a batch).</summary>
internal delegate ReadOnlyMemory<byte> LoneHeader(BatchRecord record);

/// <summary>Packs records into one reusable batch frame. Loop thread only.</summary>
internal sealed class BatchWriter
{
    // Grows as records come, up to a batch's bound: a writer made for one small record (a client sending batches of
    // one, from a thousand connections in one turn) costs what that record needs, not 64 KiB each.
    private byte[] _buffer = new byte[InitialLength];

    // Past a courier/3 batch's 64 KiB the buffer is rented, and given back when the batch is sent or dropped: a writer
    // kept for a connection or a worker holds at most 64 KiB between batches, and no large batch allocates on the
    // large-object heap. This is the writer's own buffer while it is so.
    private byte[]? _owned;

    // Courier's own pool, not the process's shared one: its buffers hold peers' bytes, which no other code may rent, and
    // every writer writes before it reads, so nothing need be cleared. At most 16 are kept (4 MiB).
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(Batch.LargeMaxFrameLength, 16);
    private readonly ReadOnlyMemory<byte>[] _send = new ReadOnlyMemory<byte>[4]; // at most 2 prefix frames, header, body
    private readonly bool _meta;
    private int _maxLength;
    private readonly int _recordsStart;
    private int _length;

    /// <summary>The buffer a writer starts with: a small batch's, and room for any records' prefix.</summary>
    internal const int InitialLength = 1024;

    /// <summary>A writer of <paramref name="kind"/> batches of at most <paramref name="maxLength"/> bytes (<see cref="Batch.FrameBound"/>).</summary>
    public BatchWriter(byte kind, int maxLength = Batch.MaxFrameLength)
    {
        _maxLength = maxLength;
        Batch.Header.CopyTo(_buffer, 0);
        _buffer[6] = kind;
        _meta = Batch.HasMeta(kind);
        _recordsStart = Batch.RecordsStart(kind);
        _length = _recordsStart;
    }

    /// <summary>The client identity a courier/5 client's batch carries once, before its records.</summary>
    public void SetClient(ClientIdentity client) => client.Write(_buffer.AsSpan(Batch.PrefixLength));

    public int Count { get; private set; }

    /// <summary>
    /// The most bytes a batch of this writer holds (<see cref="Batch.FrameBound"/>); set only while it is empty, as a
    /// reused writer is given to another peer.
    /// </summary>
    public int MaxLength
    {
        get => _maxLength;
        set
        {
            System.Diagnostics.Debug.Assert(Count == 0, "a writer's bound changes only while it is empty");
            _maxLength = value;
        }
    }

    /// <summary>True while the writer's buffer is rented (a batch past 64 KiB is packed).</summary>
    internal bool Renting => _owned is not null;

    /// <summary>The frame so far; valid until the next change.</summary>
    public ReadOnlyMemory<byte> Frame => _buffer.AsMemory(0, _length);

    /// <summary>Adds a record; false when it would not fit (send the batch, reset, add again).</summary>
    public bool TryAdd(ulong id, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> body) => TryAdd(id, tag, default, default, body);

    /// <summary>
    /// Adds a record of a courier/5 kind: <paramref name="metaFixed"/> then <paramref name="metaRest"/> form its meta
    /// (written apart so that a caller needs no buffer to join them). False when it would not fit.
    /// </summary>
    public bool TryAdd(ulong id, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> metaFixed, ReadOnlySpan<byte> metaRest, ReadOnlySpan<byte> body)
    {
        var metaLength = metaFixed.Length + metaRest.Length;
        var size = Batch.RecordOverhead + tag.Length + body.Length + (_meta ? Batch.MetaOverhead + metaLength : 0);
        if (tag.Length > byte.MaxValue || metaLength > ushort.MaxValue || size > _maxLength - _length)
        {
            return false;
        }

        if (size > _buffer.Length - _length)
        {
            var wanted = (int)Math.Min(_maxLength, Math.Max(2L * _buffer.Length, (long)_length + size));
            if (_length + size <= Batch.MaxFrameLength)
            {
                Array.Resize(ref _buffer, Math.Min(wanted, Batch.MaxFrameLength));
            }
            else
            {
                // At least the bound: rented once per batch, never grown again.
                var rented = Pool.Rent(_maxLength);
                _buffer.AsSpan(0, _length).CopyTo(rented);
                _owned = _buffer;
                _buffer = rented;
            }
        }

        var span = _buffer.AsSpan(_length, size);
        BinaryPrimitives.WriteUInt64BigEndian(span, id);
        span[8] = (byte)tag.Length;
        tag.CopyTo(span[9..]);
        var at = 9 + tag.Length;
        if (_meta)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)metaLength);
            metaFixed.CopyTo(span[(at + 2)..]);
            metaRest.CopyTo(span[(at + 2 + metaFixed.Length)..]);
            at += 2 + metaLength;
        }

        BinaryPrimitives.WriteInt32BigEndian(span[at..], body.Length);
        body.CopyTo(span[(at + 4)..]);
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

    /// <summary>
    /// Sends what is packed and empties the writer: one record alone in its ordinary form (<paramref name="prefix"/>,
    /// its <paramref name="loneHeader"/>, its body), more as one batch (<paramref name="prefix"/>, the batch frame).
    /// True when nothing was packed or the transport took it.
    /// </summary>
    public bool SendTo(Transport.Internal.ITransportSocket socket, ReadOnlySpan<ReadOnlyMemory<byte>> prefix, LoneHeader loneHeader)
    {
        if (Count == 0)
        {
            return true;
        }

        try
        {
            return socket.TrySend(Message(prefix, loneHeader));
        }
        finally
        {
            Reset(); // also when the send threw (a socket disposed under it): nothing is sent twice, the rented buffer goes back
        }
    }

    /// <summary>
    /// The message of what is packed (at least one record), as <see cref="SendTo"/> would send it; valid until
    /// <see cref="Reset"/>.
    /// </summary>
    public ReadOnlySpan<ReadOnlyMemory<byte>> Message(ReadOnlySpan<ReadOnlyMemory<byte>> prefix, LoneHeader loneHeader)
    {
        var frames = _send;
        prefix.CopyTo(frames);
        var used = prefix.Length;
        if (Count == 1)
        {
            var record = Single();
            frames[used++] = loneHeader(record);
            frames[used++] = Slice(record.BodyOffset, record.Body.Length);
        }
        else
        {
            frames[used++] = Frame;
        }

        return frames.AsSpan(0, used);
    }

    /// <summary>
    /// Keeps the records whose index (from 0, in the order added) <paramref name="keep"/> holds, in order, and drops the
    /// rest in one pass. Rare (a request detached from its connection in the turn that packed it); a batch left with no
    /// record is reset, giving a rented buffer back.
    /// </summary>
    public void Compact(Predicate<int> keep)
    {
        var reader = new BatchReader(Frame.Span);
        var start = _recordsStart;
        var write = _recordsStart;
        var index = 0;
        var kept = 0;
        while (reader.TryRead(out var record))
        {
            var end = record.BodyOffset + record.Body.Length;
            if (keep(index++))
            {
                // Behind what the reader has read: moving a record down never overwrites one still to come.
                _buffer.AsSpan(start, end - start).CopyTo(_buffer.AsSpan(write));
                write += end - start;
                kept++;
            }

            start = end;
        }

        _length = write;
        Count = kept;
        if (kept == 0)
        {
            Reset();
        }
    }

    public void Reset()
    {
        Array.Clear(_send); // holds no peer's identity past its message
        _length = _recordsStart;
        Count = 0;
        if (_owned is { } owned)
        {
            // The transports copied what was sent; nothing refers to the rented buffer past this point.
            Pool.Return(_buffer);
            _buffer = owned;
            _owned = null;
        }
    }
}
