using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// A large received frame left where libzmq put it: the <c>zmq_msg_t</c> itself, moved into native memory, instead of a
/// copy on the managed heap (a 1 MiB copy is a large-object-heap allocation, and those cost gen2 collections). Sending
/// it on, or a slice of it, hands libzmq a reference instead of bytes (<see cref="TryLend"/>): a broker forwards a body
/// without copying it.
/// </summary>
/// <remarks>
/// The message lives in a native block with a reference count: one for this object until it is disposed, one for each
/// send libzmq still holds. The last one out closes the message, on whichever thread that is (libzmq calls
/// <see cref="Return"/> on its I/O thread once a send is written or dropped), so nothing the GC moves is ever shared
/// with libzmq. Once disposed, a <see cref="Memory{T}"/> made from it throws instead of reading freed memory. No
/// finalizer (CA2015: it could free the bytes under a live span): every owner disposes it, the message it came in
/// (<see cref="MessageFrames.Clear"/>) or whoever detached it.
/// </remarks>
internal sealed unsafe class NativeFrame : MemoryManager<byte>
{
    /// <summary>
    /// Frames this large or larger are kept as they came; smaller ones are copied, which is cheaper. libzmq gives a
    /// message larger than its 8 KiB receive batch a buffer of its own; taking those beat copying them already at
    /// 16 KiB (brokered, 2 × 4 × 100 in flight: 6.8 k → 7.3–7.7 k req/s against a 32 KiB threshold).
    /// </summary>
    public const int Minimum = 8 * 1024;

    // Guards _block between a lend or share (taking a reference) and Dispose (dropping this object's): the memory may
    // have left its loop thread (a handler passing a body on), and a reference taken after the last one was dropped
    // would be on freed memory.
    private readonly Lock _lock = new();
    private static long _live;
    private Block* _block;
    private readonly int _length;

    private NativeFrame(Block* block, int length)
    {
        _block = block;
        _length = length;
    }

    /// <summary>
    /// Received frames not yet freed, process-wide: what a stopped owner left behind shows here (tests). One interlocked
    /// operation per frame of 8 KiB or more.
    /// </summary>
    public static long Live => Volatile.Read(ref _live);

    /// <summary>Takes <paramref name="message"/>'s content (it is left empty, to be closed as usual).</summary>
    public static NativeFrame Take(ZmqMsg* message, int length)
    {
        var block = (Block*)NativeMemory.Alloc((nuint)sizeof(Block));
        block->References = 1;
        _ = LibZmq.zmq_msg_init(&block->Message);
        if (LibZmq.zmq_msg_move(&block->Message, message) != 0)
        {
            NativeMemory.Free(block);
            throw new InvalidOperationException("zmq_msg_move failed");
        }

        Interlocked.Increment(ref _live);
        return new NativeFrame(block, length);
    }

    /// <summary>Whether <paramref name="memory"/> is (a slice of) a native frame, and which.</summary>
    public static bool TryGet(ReadOnlyMemory<byte> memory, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NativeFrame? frame, out int start, out int length)
        => MemoryMarshal.TryGetMemoryManager(memory, out frame, out start, out length);

    /// <summary>
    /// Throws <see cref="ObjectDisposedException"/> if any of <paramref name="frames"/> is a native frame given back
    /// already: checked before the first frame of a message is handed to libzmq, so that a message is sent whole or not
    /// at all.
    /// </summary>
    public static void ThrowIfAnyDisposed(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        foreach (var frame in frames)
        {
            if (MemoryMarshal.TryGetMemoryManager<byte, NativeFrame>(frame, out var native))
            {
                ObjectDisposedException.ThrowIf(native._block is null, native);
            }
        }
    }

    /// <summary>
    /// A zero-copy frame over bytes <paramref name="start"/>..+<paramref name="length"/> for libzmq to send, holding a
    /// reference that libzmq gives back through <see cref="Return"/>. False once disposed.
    /// </summary>
    public bool TryLend(ZmqMsg* message, int start, int length)
    {
        Block* block;
        lock (_lock)
        {
            block = _block;
            if (block is null)
            {
                return false;
            }

            Interlocked.Increment(ref block->References);
        }

        var data = (byte*)LibZmq.zmq_msg_data(&block->Message) + start;
        if (LibZmq.zmq_msg_init_data(message, data, (nuint)length, &Return, block) != 0)
        {
            Unreference(block);
            return false;
        }

        return true;
    }

    /// <summary>A reference for a holder in native memory (<see cref="PeerBacklog"/>); give it back with <see cref="Unreference"/>.</summary>
    public void* Share(out byte* data)
    {
        Block* block;
        lock (_lock)
        {
            block = _block;
            ObjectDisposedException.ThrowIf(block is null, this);
            Interlocked.Increment(ref block->References);
        }

        data = (byte*)LibZmq.zmq_msg_data(&block->Message);
        return block;
    }

    public static void Unreference(void* shared)
    {
        var block = (Block*)shared;
        if (Interlocked.Decrement(ref block->References) == 0)
        {
            _ = LibZmq.zmq_msg_close(&block->Message);
            NativeMemory.Free(block);
            Interlocked.Decrement(ref _live);
        }
    }

    public override Span<byte> GetSpan()
    {
        var block = _block;
        ObjectDisposedException.ThrowIf(block is null, this);
        return new Span<byte>(LibZmq.zmq_msg_data(&block->Message), _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        var block = _block;
        ObjectDisposedException.ThrowIf(block is null, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)_length, nameof(elementIndex));
        return new MemoryHandle((byte*)LibZmq.zmq_msg_data(&block->Message) + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        Block* block;
        lock (_lock)
        {
            block = _block;
            _block = null;
        }

        if (block is not null)
        {
            Unreference(block);
        }
    }

    /// <summary>libzmq's free callback for a lent frame: on its I/O thread, or inside a send or close with the GC transition.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Return(void* data, void* hint) => Unreference(hint);

    [StructLayout(LayoutKind.Sequential)]
    private struct Block
    {
        public long References;
        public ZmqMsg Message;
    }
}
