using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>A NetMQ poller on a dedicated thread, with a queue for work posted from other threads.</summary>
internal sealed class NetMqLoop : ITransportLoop
{
    private readonly string _name;
    private readonly NetMQPoller _poller = new();
    // Posted work waits in a lock-free queue; the NetMQ queue only carries a wake-up, and only when the loop is
    // not already due to drain: one signal per batch instead of one per message.
    private readonly System.Collections.Concurrent.ConcurrentQueue<Action> _posted = new();
    private readonly NetMQQueue<bool> _wake = new();
    private int _wakePending;
    private bool _selfPosted;
    private readonly Dictionary<NetMqSocket, EventHandler<NetMQSocketEventArgs>> _handlers = [];
    private readonly MessageFrames _message = new();
    private Action? _onTurnEnd;
    private Action? _onStopped;
    private Thread? _thread;
    private int _threadId = -1;
    private int _disposed;
    private int _cleanedUp;

    private readonly Microsoft.Extensions.Logging.ILogger _logger;

    public NetMqLoop(string name, Microsoft.Extensions.Logging.ILogger logger)
    {
        _name = name;
        _logger = logger;
        _wake.ReceiveReady += (_, e) =>
        {
            while (e.Queue.TryDequeue(out var _, TimeSpan.Zero))
            {
            }

            // A full fence, not a release: the queue must be read after the flag is seen clear (see NativeLoop.DrainPosted).
            Interlocked.Exchange(ref _wakePending, 0);
            WithoutPollerContext(RunPosted);
        };
        _poller.Add(_wake);
    }

    /// <summary>
    /// Runs <paramref name="work"/> without the SynchronizationContext NetMQPoller installs on its thread: under it,
    /// .NET never runs an await continuation inline, so a request completed here would always hop to the thread pool,
    /// which is what <c>RunContinuationsInline</c> asks to avoid. Courier's loops never rely on that context.
    /// </summary>
    private void WithoutPollerContext(Action work)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            LoopGuard.Run(work, _logger, _name);
            if (_selfPosted)
            {
                RunPosted();
            }

            // Each poller callback is a turn: what it packed leaves now.
            if (_onTurnEnd is { } onTurnEnd)
            {
                LoopGuard.Run(onTurnEnd, _logger, _name);
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    private void RunPosted()
    {
        // Bounded batch: a flood of posted work must not starve the sockets; what is left asks for another turn.
        _selfPosted = false;
        for (var i = 0; i < 4096 && _posted.TryDequeue(out var work); i++)
        {
            LoopGuard.Run(work, _logger, _name);
        }

        if (!_posted.IsEmpty)
        {
            Wake(); // the rest waits for another turn, after the sockets
        }
    }

    public bool IsLoopThread => Environment.CurrentManagedThreadId == _threadId;

    public ITransportSocket CreateSocket(SocketKind kind, TransportOptions options, ISocketHandler handler, bool reportDisconnects = false, bool countUnwritten = false)
    {
        var token = reportDisconnects ? DisconnectNotice.NewToken() : null;
        var netMqSocket = NetMqTransport.CreateSocket(kind, options, token);
        NetMqListenerGuard? guard = null;
        try
        {
            // Only ROUTERs listen (servers, brokers): their connections are bounded as on the native transport.
            guard = kind == SocketKind.Router
                ? new NetMqListenerGuard(netMqSocket, options, _poller, _logger, Courier.Internal.ViolationLog.ForListener(_logger, options))
                : null;
        }
        catch
        {
            netMqSocket.Dispose();
            throw;
        }

        var socket = new NetMqSocket(netMqSocket, token, handler, Forget)
        {
            Role = Diagnostics.Internal.TelemetryRole.OfLoop(_name),
            Guard = guard,
            Frames = new FrameLimit(options, _logger),
            Backlog = kind == SocketKind.Router ? new NetMqPeerBacklog(options.MaxPendingBytesPerPeer)
                : countUnwritten ? new NetMqPeerBacklog(options.MaxPendingBytesPerPeer, onePeer: true) : null,
        };
        Action pump = () => SocketPump.Drain(socket, socket.Handler, _message, _onTurnEnd, _logger, _name);
        EventHandler<NetMQSocketEventArgs> onReady = (_, _) => WithoutPollerContext(pump);
        socket.Socket.ReceiveReady += onReady;
        _handlers[socket] = onReady;
        _poller.Add(socket.Socket);
        return socket;
    }

    /// <summary>A socket being disposed: polled no more.</summary>
    private void Forget(NetMqSocket socket)
    {
        // Until the poller itself is disposed, not merely until the loop is: a socket its thread disposes after another
        // thread began Dispose, but before the poller saw the stop, was otherwise left in the poller, whose next select
        // threw ObjectDisposedException on that thread and ended the process (seen once, a full managed test run).
        if (_handlers.Remove(socket, out var onReady) && Volatile.Read(ref _cleanedUp) == 0)
        {
            socket.Socket.ReceiveReady -= onReady;
            _poller.Remove(socket.Socket);
        }
    }

    public void Post(Action work)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _posted.Enqueue(work);
            if (Environment.CurrentManagedThreadId == _threadId)
            {
                // Posted by one of the loop's own handlers: it runs when that handler returns, without a wake-up.
                _selfPosted = true;
                return;
            }

            Wake();
        }
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Enqueue(true);
        }
    }

    public void Start(TimeSpan tickInterval, Action onTick, Action onTurnEnd, Action? onStopped = null)
    {
        _onTurnEnd = onTurnEnd;
        _onStopped = onStopped;
        var timer = new NetMQTimer(tickInterval);
        timer.Elapsed += (_, _) => WithoutPollerContext(onTick);
        _poller.Add(timer);
        _thread = new Thread(() =>
        {
            _threadId = Environment.CurrentManagedThreadId;
            try
            {
                _poller.Run();
            }
            finally
            {
                // Disposed from a handler on this thread, or while this thread was slow to stop: clean up here, last.
                if (Volatile.Read(ref _disposed) != 0)
                {
                    CleanUp();
                }
            }
        })
        {
            IsBackground = true,
            Name = _name,
        };
        _thread.Start();

        // NetMQPoller.Run forgets a stop asked before it began: a Dispose right after Start must find it running.
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!_poller.IsRunning && _thread.IsAlive && started.Elapsed < StartWait)
        {
            Thread.Sleep(1);
        }
    }

    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(10);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_thread is null)
        {
            CleanUp();
            return;
        }

        // Never NetMQPoller.Stop or Dispose while it runs: both wait for it without a bound, forever when called from a
        // handler on its own thread. Asked to stop, it leaves Run after the turn in progress.
        try
        {
            _poller.StopAsync();
        }
        catch (InvalidOperationException)
        {
            // Not running: it has stopped already.
        }

        if (Environment.CurrentManagedThreadId != _threadId && _thread.Join(TimeSpan.FromSeconds(5)))
        {
            CleanUp();
        }

        // Otherwise the loop thread is still running (Dispose came from one of its own handlers, or it is stuck): it
        // closes its sockets itself when it leaves Run, never under its own feet.
    }

    private void CleanUp()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) != 0)
        {
            return;
        }

        foreach (var socket in _handlers.Keys.ToArray())
        {
            socket.Dispose();
        }

        _handlers.Clear();
        _poller.Dispose();
        _wake.Dispose();
        if (_onStopped is { } onStopped)
        {
            LoopGuard.Run(onStopped, _logger, _name);
        }
    }
}
