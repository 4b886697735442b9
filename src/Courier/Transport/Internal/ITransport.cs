namespace Courier.Transport.Internal;

/// <summary>The kinds of ZeroMQ socket Courier uses.</summary>
internal enum SocketKind
{
    Router,
    Dealer,
}

/// <summary>Why the last send a socket refused was refused (<see cref="ITransportSocket.LastRefusal"/>).</summary>
internal enum SendRefusal
{
    /// <summary>Nothing refused, or the transport cannot tell.</summary>
    None,

    /// <summary>The peer's queue is at its high-water mark (<see cref="TransportOptions.SendHighWatermark"/>): it is there but does not read.</summary>
    QueueFull,

    /// <summary>No such peer (any more): its connection is gone (a ROUTER's mandatory routing says so).</summary>
    PeerGone,

    /// <summary>The peer already has <see cref="TransportOptions.MaxPendingBytesPerPeer"/> bytes handed over and not yet written: it does not read.</summary>
    OverBudget,
}

/// <summary>
/// The seam between Courier and a ZeroMQ implementation. Nothing outside this namespace names a type of an
/// implementation, so the managed (NetMQ) and native (libzmq) transports, or a third, are interchangeable.
/// </summary>
internal interface ITransport
{
    /// <summary>A short name for logs: "managed" or "native".</summary>
    string Name { get; }

    /// <summary>
    /// Creates an event loop: one thread that owns its sockets, runs posted work and ticks a timer. Whatever the work it
    /// runs throws is logged to <paramref name="logger"/> and the loop goes on (<see cref="LoopGuard"/>).
    /// </summary>
    ITransportLoop CreateLoop(string name, Microsoft.Extensions.Logging.ILogger logger);
}

/// <summary>What a socket's owner does with what arrives on it. Called on the loop thread only.</summary>
internal interface ISocketHandler
{
    /// <summary>
    /// One whole message; its frames are valid only until this returns. Return false to stop reading this socket for the
    /// rest of the turn (what is left is read the next turn).
    /// </summary>
    bool OnMessage(MessageFrames message);

    /// <summary>
    /// A peer's connection dropped (sockets created with <c>reportDisconnects</c> only), told after that peer's last
    /// messages. An event of the transport: no peer can forge it.
    /// </summary>
    void OnPeerDisconnected(ReadOnlySpan<byte> routingId);

    /// <summary>
    /// Whether the loop ends the turn right after the first message of a burst, so that a lone request's reply leaves
    /// before the loop asks for more: right for a server or worker answering requests; a broker or client under load
    /// batches better without it.
    /// </summary>
    bool EndTurnAfterFirstMessage => true;
}

/// <summary>
/// One ZeroMQ socket, owned by the loop that created it. Not thread-safe: only that loop may call it. Disposing it
/// (on the loop thread) stops polling it and closes it.
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

    /// <summary>Why the last <see cref="TrySend"/> that returned false was refused; meaningless after one that returned true.</summary>
    SendRefusal LastRefusal => SendRefusal.None;

    /// <summary>The most bytes any one peer has handed over and not yet written, where the transport counts them (else 0).</summary>
    long LargestPendingBytes => 0;

    /// <summary>Whether it was disposed (closed); a stand-in that is never closed says false.</summary>
    bool IsClosed => false;
}

/// <summary>
/// A loop thread that owns its sockets and polls them. Other threads reach it only through <see cref="Post"/>.
/// A <em>turn</em> is what the loop runs between two polls: the messages it received, the work posted to it, its tick.
/// </summary>
internal interface ITransportLoop : IDisposable
{
    /// <summary>
    /// Creates a socket with every limit in <paramref name="options"/> applied, polled by this loop, whose messages go to
    /// <paramref name="handler"/>. With <paramref name="reportDisconnects"/> (ROUTER), dropped peers are reported too.
    /// A ROUTER counts each peer's unwritten large messages against its budget; a DEALER counts its one peer's only with
    /// <paramref name="countUnwritten"/> (<see cref="ITransportSocket.LargestPendingBytes"/>, for an owner that waits for
    /// them to be written before it closes). Call on the loop thread, or before <see cref="Start"/>.
    /// </summary>
    ITransportSocket CreateSocket(SocketKind kind, TransportOptions options, ISocketHandler handler, bool reportDisconnects = false, bool countUnwritten = false);

    /// <summary>
    /// <see cref="CreateSocket"/> for a socket that will connect to <paramref name="endpoint"/> (as written, before any
    /// name is resolved): a loop may pick the kind of socket by where it goes. Not connected yet.
    /// </summary>
    ITransportSocket CreateConnecting(SocketKind kind, TransportOptions options, ISocketHandler handler, string endpoint, bool countUnwritten = false)
        => CreateSocket(kind, options, handler, countUnwritten: countUnwritten);

    /// <summary>Runs <paramref name="work"/> on the loop thread soon. Thread-safe; wakes the loop.</summary>
    void Post(Action work);

    /// <summary>
    /// Starts the loop thread: <paramref name="onTick"/> every <paramref name="tickInterval"/>, and
    /// <paramref name="onTurnEnd"/> at the end of every turn (where what was packed during it is sent) and right after
    /// the first message a socket delivers in a turn, so that a lone request's reply leaves before the loop asks for more.
    /// <paramref name="onStopped"/> runs once, after the loop's last turn and once its sockets are closed (so never beside a
    /// turn): on the loop's thread as it ends, or on the thread that disposed it: where the owner gives back what its
    /// requests still hold, or fails the calls still waiting. Both transports run it, on the loop's thread as it ends
    /// when it was disposed from that thread or stopped too slowly for the disposer to wait.
    /// </summary>
    void Start(TimeSpan tickInterval, Action onTick, Action onTurnEnd, Action? onStopped = null);

    /// <summary>True on the loop's own thread.</summary>
    bool IsLoopThread { get; }

    /// <summary>
    /// Loop thread: before its next wait, the loop looks for posted work for a few microseconds, so that work another
    /// thread posts right away (a caller resumed on the thread pool asking again) is taken without a wake-up. A hint:
    /// a loop may ignore it.
    /// </summary>
    void ExpectPostSoon()
    {
    }
}

/// <summary>What every owner of a loop or a connecting socket does alike.</summary>
internal static class TransportLoopExtensions
{
    /// <summary>Reads a value on the loop thread (state that only the loop may touch), for a caller on any thread.</summary>
    public static Task<T> ReadAsync<T>(this ITransportLoop loop, Func<T> read)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() => result.TrySetResult(read()));
        return result.Task;
    }

    /// <summary>
    /// A socket connected to <paramref name="endpoint"/>, by address (<see cref="HostResolver"/>); closed again if the
    /// transport refuses the address. A name whose lookup is slow is connected when it answers (unless the socket was closed
    /// meanwhile), and then <paramref name="onLateConnect"/> runs on the loop: what was sent before went nowhere. One that
    /// does not resolve leaves the socket connected nowhere, for its owner's timeouts to replace.
    /// </summary>
    public static ITransportSocket CreateConnected(
        this ITransportLoop loop, SocketKind kind, TransportOptions options, ISocketHandler handler, string endpoint, Action? onLateConnect = null,
        HostResolver? resolver = null, bool countUnwritten = false)
    {
        var socket = loop.CreateConnecting(kind, options, handler, endpoint, countUnwritten);
        try
        {
            var target = (resolver ?? HostResolver.Shared).ForConnect(endpoint, resolved => loop.Post(() =>
            {
                if (!socket.IsClosed)
                {
                    socket.Connect(resolved);
                    onLateConnect?.Invoke();
                }
            }));
            if (target is not null)
            {
                socket.Connect(target);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
