using System.Buffers;

namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// A large received frame in an array rented from the shared pool, handed on as memory of the transport's
/// (<see cref="MessageFrames.AppendOwned"/>): no large-object-heap array per message. Its owner disposes it, which gives
/// the array back; a <see cref="Memory{T}"/> made from it throws from then on instead of reading an array lent anew.
/// </summary>
internal sealed unsafe class PooledFrame : MemoryManager<byte>
{
    /// <summary>Frames this large or larger are pooled; smaller ones are copied into the message's own buffer.</summary>
    public const int Minimum = 8 * 1024;

    private static long _live;
    private byte[]? _array;
    private readonly int _length;

    /// <summary>Pooled frames not yet given back, process-wide (tests): what an owner left behind shows here.</summary>
    public static long Live => Interlocked.Read(ref _live);

    public PooledFrame(ReadOnlySpan<byte> content)
        : this(content.Length) => content.CopyTo(_array);

    /// <summary>A frame of <paramref name="length"/> bytes yet to be filled (through <see cref="GetSpan"/>).</summary>
    public PooledFrame(int length)
    {
        Interlocked.Increment(ref _live);
        _array = ArrayPool<byte>.Shared.Rent(length);
        _length = length;
    }

    public override Span<byte> GetSpan()
        => (Volatile.Read(ref _array) ?? throw new ObjectDisposedException(nameof(PooledFrame))).AsSpan(0, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        var array = Volatile.Read(ref _array) ?? throw new ObjectDisposedException(nameof(PooledFrame));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)_length, nameof(elementIndex));
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(array, System.Runtime.InteropServices.GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _array, null) is { } array)
        {
            Interlocked.Decrement(ref _live);
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
