namespace Courier.Transport.Internal;

/// <summary>
/// One received multipart message, its frames side by side in a buffer reused from one message to the next, so
/// receiving allocates nothing. What a frame's span or memory shows is valid only until the next receive into the
/// same instance: copy what must outlive it (<see cref="ToArray"/>, <see cref="CopyTo"/>). Loop thread only.
/// </summary>
internal sealed class MessageFrames
{
    // A buffer grown by one large message is dropped at the next receive rather than held for good.
    private const int InitialCapacity = 1024;
    private const int RetainedCapacity = 256 * 1024;

    private byte[] _data = new byte[InitialCapacity];
    private int _used;
    private int[] _starts = new int[8];
    private int[] _lengths = new int[8];

    public int Count { get; private set; }

    /// <summary>
    /// The sender's identity as the ZAP handler vouched for it (its CURVE public key, Z85), on a CURVE listener's
    /// messages; null otherwise. Set by the transport, never by a peer.
    /// </summary>
    public string? UserId { get; set; }

    public ReadOnlySpan<byte> this[int index] => _data.AsSpan(_starts[CheckIndex(index)], _lengths[index]);

    public int Length(int index) => _lengths[CheckIndex(index)];

    public ReadOnlyMemory<byte> Memory(int index) => _data.AsMemory(_starts[CheckIndex(index)], _lengths[index]);

    /// <summary>The frame as an array of its own.</summary>
    public byte[] ToArray(int index) => Length(index) == 0 ? [] : this[index].ToArray();

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
        Count = 0;
        UserId = null;
        _used = 0;
        if (_data.Length > RetainedCapacity)
        {
            _data = new byte[InitialCapacity];
        }
    }

    /// <summary>Adds a frame of <paramref name="length"/> bytes and returns the space to write it into.</summary>
    public Span<byte> Append(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (Count == _starts.Length)
        {
            Array.Resize(ref _starts, Count * 2);
            Array.Resize(ref _lengths, Count * 2);
        }

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

    private int CheckIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return index;
    }
}
