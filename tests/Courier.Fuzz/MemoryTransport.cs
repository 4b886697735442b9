using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Fuzz;

/// <summary>
/// A transport that lives in memory and runs on the caller's thread: the fuzzer hands an engine messages as its loop
/// would, many thousands of times a second, and sees every byte it sends. The seam is the real one (what the native
/// and managed transports implement); only the sockets are replaced, because a fuzzer needs one process, one thread and
/// no I/O to be fast and repeatable.
/// </summary>
internal sealed class MemoryLoop
{
    private readonly Queue<Action> _posted = new();
    private readonly List<MemorySocket> _sockets = [];

    public Loop Inner { get; }

    public MemoryLoop() => Inner = new Loop(this);

    /// <summary>Bytes every socket of this loop has sent.</summary>
    public long BytesSent => _sockets.Sum(s => s.BytesSent);

    /// <summary>Messages every socket of this loop has sent.</summary>
    public long MessagesSent => _sockets.Sum(s => s.MessagesSent);

    internal IReadOnlyList<MemorySocket> Sockets => _sockets;

    internal Action? OnTick { get; private set; }

    internal Action? OnTurnEnd { get; private set; }

    /// <summary>Runs what was posted to the loop, as its next turns would, until nothing is left (bounded).</summary>
    public void RunPosted()
    {
        for (var turns = 0; turns < 10_000 && _posted.Count > 0; turns++)
        {
            _posted.Dequeue()();
        }
    }

    internal sealed class Loop(MemoryLoop owner) : ITransportLoop
    {
        public bool IsLoopThread => true;

        public ITransportSocket CreateSocket(SocketKind kind, TransportOptions options, ISocketHandler handler, bool reportDisconnects = false, bool countUnwritten = false)
        {
            var socket = new MemorySocket(handler);
            owner._sockets.Add(socket);
            return socket;
        }

        public void Post(Action work) => owner._posted.Enqueue(work);

        public void Start(TimeSpan tickInterval, Action onTick, Action onTurnEnd, Action? onStopped = null)
        {
            owner.OnTick = onTick;
            owner.OnTurnEnd = onTurnEnd;
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>A socket whose sends are counted and dropped, and into which the harness delivers messages.</summary>
internal sealed class MemorySocket(ISocketHandler handler) : ITransportSocket
{
    public ISocketHandler Handler { get; } = handler;

    public long BytesSent { get; private set; }

    public long MessagesSent { get; private set; }

    public bool Disposed { get; private set; }

    public bool IsClosed => Disposed;

    public string Bind(string endpoint) => "tcp://127.0.0.1:1";

    public void Connect(string endpoint)
    {
    }

    public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        foreach (var frame in frames)
        {
            BytesSent += frame.Length;
        }

        MessagesSent++;
        return true;
    }

    public void Dispose() => Disposed = true;
}
