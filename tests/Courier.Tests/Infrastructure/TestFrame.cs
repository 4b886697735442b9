namespace Courier.Tests.Infrastructure;

/// <summary>
/// A transport frame's stand-in (what <c>MessageFrames.AppendOwned</c> takes): managed bytes that count their disposals
/// and, like the native transport's, throw <see cref="ObjectDisposedException"/> when read after being given back.
/// </summary>
public sealed class TestFrame(byte[] bytes) : System.Buffers.MemoryManager<byte>
{
    public int Disposals { get; private set; }

    public override Span<byte> GetSpan() => Disposals > 0 ? throw new ObjectDisposedException(nameof(TestFrame)) : bytes;

    public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing) => Disposals++;
}
