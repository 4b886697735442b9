namespace Courier.Transport.Internal;

/// <summary>
/// One received multipart message, its frames side by side in a buffer reused from one message to the next, so
/// receiving allocates nothing. What a frame's span or memory shows is valid only until the next receive into the
/// same instance: copy what must outlive it (<see cref="ToArray"/>, <see cref="CopyTo"/>), or take it
/// (<see cref="Detach"/>). A transport may hand over a large frame as memory of its own (<see cref="AppendOwned"/>)
/// rather than copy it in: its memory then stops working (throws) at the next receive, unless detached. Loop thread only.
/// </summary>
internal sealed class MessageFrames
{
    // A buffer grown by one large message is dropped at the next receive rather than held for good.
    private const int InitialCapacity = 1024;
    // Above a courier/7 batch (256 KiB) with its envelope, which the buffer grows to by doubling: such batches come
    // back to back under load, and a buffer dropped after each would be a large-object allocation per message.
    private const int RetainedCapacity = 512 * 1024;

    private byte[] _data = new byte[InitialCapacity];
    private int _used;
    private int[] _starts = new int[8];
    private int[] _lengths = new int[8];
    private System.Buffers.MemoryManager<byte>?[] _owned = new System.Buffers.MemoryManager<byte>?[8];
    private bool[] _detached = new bool[8];
    private bool _hasOwned;

    public int Count { get; private set; }

    /// <summary>
    /// The sender's identity as the ZAP handler vouched for it (its CURVE public key, Z85), on a CURVE listener's
    /// messages; null otherwise. Set by the transport, never by a peer.
    /// </summary>
    public string? UserId { get; set; }

    public ReadOnlySpan<byte> this[int index] => _owned[CheckIndex(index)] is { } owned ? owned.GetSpan() : _data.AsSpan(_starts[index], _lengths[index]);

    public int Length(int index) => _lengths[CheckIndex(index)];

    /// <summary>The bytes of all its frames together.</summary>
    public long TotalLength
    {
        get
        {
            long total = 0;
            for (var i = 0; i < Count; i++)
            {
                total += _lengths[i];
            }

            return total;
        }
    }

    public ReadOnlyMemory<byte> Memory(int index) => _owned[CheckIndex(index)] is { } owned ? owned.Memory : _data.AsMemory(_starts[index], _lengths[index]);

    /// <summary>Whether frame <paramref name="index"/> is memory the transport handed over (<see cref="AppendOwned"/>).</summary>
    public bool IsOwned(int index) => _owned[CheckIndex(index)] is not null;

    /// <summary>
    /// Takes frame <paramref name="index"/>, handed over by the transport (<see cref="IsOwned"/>), out of this message: the
    /// caller owns it from now on and disposes it when done. Its memory stays valid until then.
    /// </summary>
    public System.Buffers.MemoryManager<byte> Detach(int index)
    {
        var owned = _owned[CheckIndex(index)];
        if (owned is null || _detached[index])
        {
            throw new InvalidOperationException("only a frame the transport handed over can be detached, once");
        }

        _detached[index] = true;
        return owned;
    }

    /// <summary>The frame as an array of its own.</summary>
    public byte[] ToArray(int index)
    {
        if (Length(index) == 0)
        {
            return [];
        }

        // Every byte is overwritten at once: not zeroed first (which a large array would otherwise pay for).
        var array = GC.AllocateUninitializedArray<byte>(Length(index));
        this[index].CopyTo(array);
        return array;
    }

    /// <summary>Replaces the contents of <paramref name="frames"/> with copies of every frame.</summary>
    public void CopyTo(List<byte[]> frames)
    {
        frames.Clear();
        for (var i = 0; i < Count; i++)
        {
            frames.Add(ToArray(i));
        }
    }

    public void Clear()
    {
        if (_hasOwned)
        {
            for (var i = 0; i < Count; i++)
            {
                if (_owned[i] is { } owned && !_detached[i])
                {
                    ((IDisposable)owned).Dispose();
                }

                _owned[i] = null;
                _detached[i] = false;
            }

            _hasOwned = false;
        }

        Count = 0;
        UserId = null;
        _used = 0;
        if (_data.Length > RetainedCapacity)
        {
            _data = new byte[InitialCapacity];
        }
    }

    /// <summary>
    /// Adds a frame that stays in memory of the transport's (<paramref name="frame"/>), disposed at the next
    /// <see cref="Clear"/> unless detached.
    /// </summary>
    public void AppendOwned(System.Buffers.MemoryManager<byte> frame)
    {
        Grow();
        _starts[Count] = 0;
        _lengths[Count] = frame.Memory.Length;
        _owned[Count] = frame;
        _hasOwned = true;
        Count++;
    }

    /// <summary>Adds a frame of <paramref name="length"/> bytes and returns the space to write it into.</summary>
    public Span<byte> Append(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Grow();

        if (_data.Length - _used < length)
        {
            // In long, and within what one array can hold: a message too large for that is refused, never wrapped round.
            var needed = (long)_used + length;
            if (needed > Array.MaxLength)
            {
                throw new InvalidOperationException($"A message of more than {Array.MaxLength} bytes cannot be received.");
            }

            var grown = new byte[Math.Max(Math.Min((long)_data.Length * 2, Array.MaxLength), needed)];
            _data.AsSpan(0, _used).CopyTo(grown);
            _data = grown;
        }

        _starts[Count] = _used;
        _lengths[Count] = length;
        Count++;
        _used += length;
        return _data.AsSpan(_used - length, length);
    }

    public void Append(ReadOnlySpan<byte> frame) => frame.CopyTo(Append(frame.Length));

    private void Grow()
    {
        if (Count == _starts.Length)
        {
            Array.Resize(ref _starts, Count * 2);
            Array.Resize(ref _lengths, Count * 2);
            Array.Resize(ref _owned, Count * 2);
            Array.Resize(ref _detached, Count * 2);
        }
    }

    private int CheckIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return index;
    }
}
