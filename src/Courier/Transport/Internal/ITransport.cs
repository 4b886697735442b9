namespace Courier.Transport.Internal;

/// <summary>The kinds of ZeroMQ socket Courier uses.</summary>
internal enum SocketKind
{
    Router,
    Dealer,
}

/// <summary>
/// The seam between Courier and a ZeroMQ implementation. Nothing above this namespace names a type
/// of the implementation, so the managed (NetMQ) and native (libzmq) transports are interchangeable.
/// </summary>
internal interface ITransport
{
    /// <summary>A short name for logs: "managed" or "native".</summary>
    string Name { get; }

    /// <summary>
    /// Creates a socket with every limit in <paramref name="options"/> applied. The socket belongs to the loop that polls it.
    /// With <paramref name="disconnectNotice"/> (ROUTER only), the socket receives <c>[routing id, notice]</c> whenever a
    /// peer's connection drops, so a broker learns of dead peers at once.
    /// </summary>
    ITransportSocket CreateSocket(SocketKind kind, TransportOptions options, byte[]? disconnectNotice = null);

    /// <summary>Creates an event loop: one thread that owns its sockets, runs posted work and ticks a timer.</summary>
    ITransportLoop CreateLoop(string name);
}

/// <summary>
/// One ZeroMQ socket. Not thread-safe: only the loop that polls it may call it.
/// </summary>
internal interface ITransportSocket : IDisposable
{
    /// <summary>Binds; a TCP port of <c>*</c> or <c>0</c> picks a free port. Returns the endpoint actually bound.</summary>
    string Bind(string endpoint);

    void Connect(string endpoint);

    /// <summary>
    /// Sends one multipart message without blocking. Returns false when the message could not be queued
    /// (high-water mark reached, or no peer); nothing of it was sent then.
    /// </summary>
    bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames);

    /// <summary>
    /// Receives one whole multipart message into <paramref name="message"/> (cleared first) without blocking.
    /// Returns false when none is waiting.
    /// </summary>
    bool TryReceive(MessageFrames message);
}

/// <summary>
/// A loop thread that polls sockets and owns them. Other threads reach it only through <see cref="Post"/>.
/// </summary>
internal interface ITransportLoop : IDisposable
{
    /// <summary>Polls <paramref name="socket"/>; <paramref name="onReadable"/> runs on the loop whenever it has messages.</summary>
    void Add(ITransportSocket socket, Action onReadable);

    /// <summary>Stops polling and disposes <paramref name="socket"/>. Loop thread only.</summary>
    void RemoveAndDispose(ITransportSocket socket);

    /// <summary>Runs <paramref name="work"/> on the loop thread soon. Thread-safe; wakes the loop.</summary>
    void Post(Action work);

    /// <summary>Starts the loop thread, calling <paramref name="onTick"/> every <paramref name="tickInterval"/> on it.</summary>
    void Start(TimeSpan tickInterval, Action onTick);

    /// <summary>True on the loop's own thread.</summary>
    bool IsLoopThread { get; }
}
