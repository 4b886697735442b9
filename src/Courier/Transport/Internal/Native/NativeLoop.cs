using System.Collections.Concurrent;
using System.Diagnostics;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// A poll(2) loop on a dedicated thread over the sockets' ZMQ_FDs and an eventfd through which other threads post work.
/// Not zmq_poll: that queries every socket's events before and after each wait, system calls a request pays for.
/// </summary>
internal sealed unsafe class NativeLoop : ITransportLoop
{
    private readonly string _name;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly List<NativeSocket> _sockets = [];
    private readonly List<Zmtp.ZmtpDealer> _dealers = [];
    private readonly MessageFrames _message = new();
    private Action? _onTurnEnd;
    private Action? _tickSockets;
    private Action? _onStopped;
    private readonly int _wakeFd;
    private PollFd[] _fds = [];
    private PollEntry[] _entries = [];
    private bool[] _due = [];
    private bool _itemsDirty = true;
    private Thread? _thread;
    private int _threadId = -1;
    private int _wakePending;
    private bool _selfPosted;
    private bool _expectPost;

    /// <summary>How long <see cref="SpinForPosts"/> looks: about what a pool thread takes to resume a caller and post.</summary>
    private static readonly TimeSpan PostSpin = TimeSpan.FromMicroseconds(30);

    private static readonly long PostSpinTicks = (long)(PostSpin.TotalSeconds * Stopwatch.Frequency);
    private volatile bool _stopping;
    private int _disposed;
    private int _cleanedUp;

    // Guards the eventfd against a Post racing Dispose: a write to a closed fd number could land in a descriptor
    // that libzmq has since opened for its own signalling and wedge it.
    private readonly Lock _wakeFdLock = new();
    private bool _wakeFdClosed;

    private readonly Microsoft.Extensions.Logging.ILogger _logger;

    public NativeLoop(string name, Microsoft.Extensions.Logging.ILogger logger)
    {
        _name = name;
        _logger = logger;
        _wakeFd = LibC.eventfd(0, LibC.EventFdNonBlocking | LibC.EventFdCloseOnExec);
        if (_wakeFd < 0)
        {
            throw new InvalidOperationException($"eventfd failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }
    }

    public bool IsLoopThread => Environment.CurrentManagedThreadId == _threadId;

    public ITransportSocket CreateConnecting(SocketKind kind, TransportOptions options, ISocketHandler handler, string endpoint, bool countUnwritten = false)
    {
        if (Zmtp.ZmtpDealers.Serve(kind, options, endpoint))
        {
            options.Validate();
            var dealer = new Zmtp.ZmtpDealer(options, handler, ForgetDealer, () => _itemsDirty = true, _logger)
            {
                Role = Diagnostics.Internal.TelemetryRole.OfLoop(_name),
                UnwrittenBudget = countUnwritten ? options.MaxPendingBytesPerPeer : null,
            };
            _dealers.Add(dealer);
            _itemsDirty = true;
            return dealer;
        }

        return CreateSocket(kind, options, handler, countUnwritten: countUnwritten);
    }

    public ITransportSocket CreateSocket(SocketKind kind, TransportOptions options, ISocketHandler handler, bool reportDisconnects = false, bool countUnwritten = false)
    {
        var socket = NativeTransport.CreateSocket(kind, options, handler, reportDisconnects, Forget, _logger, countUnwritten);
        socket.Role = Diagnostics.Internal.TelemetryRole.OfLoop(_name);
        _sockets.Add(socket);
        _itemsDirty = true;
        return socket;
    }

    /// <summary>A socket being disposed: polled no more.</summary>
    private void Forget(NativeSocket socket)
    {
        _sockets.Remove(socket);
        _itemsDirty = true;
    }

    private void ForgetDealer(Zmtp.ZmtpDealer dealer)
    {
        _dealers.Remove(dealer);
        _itemsDirty = true;
    }

    private void TickSockets()
    {
        for (var i = 0; i < _sockets.Count; i++)
        {
            _sockets[i].OnTick();
        }

        // Backwards: a dealer whose linger ends here leaves the list, and none behind it misses its tick.
        for (var i = _dealers.Count - 1; i >= 0; i--)
        {
            _dealers[i].OnTick();
        }
    }

    private void Pump(NativeSocket socket) => SocketPump.Drain(socket, socket.Handler, _message, _onTurnEnd, _logger, _name);

    public void Post(Action work)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _posted.Enqueue(work);
        if (Environment.CurrentManagedThreadId == _threadId)
        {
            // Posted by one of the loop's own handlers: run before the next poll, no eventfd round trip.
            _selfPosted = true;
            return;
        }

        Wake();
    }

    private void Wake()
    {
        // One eventfd write per batch: only when the loop has not been woken since it last drained.
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            WriteWake();
        }
    }

    private void WriteWake()
    {
        lock (_wakeFdLock)
        {
            if (!_wakeFdClosed)
            {
                ulong one = 1;
                _ = LibC.write(_wakeFd, &one, sizeof(ulong));
            }
        }
    }

    public void Start(TimeSpan tickInterval, Action onTick, Action onTurnEnd, Action? onStopped = null)
    {
        _onTurnEnd = onTurnEnd;
        _onStopped = onStopped;
        _thread = new Thread(() => Run(tickInterval, onTick)) { IsBackground = true, Name = _name };
        _thread.Start();
    }

    private void Run(TimeSpan tickInterval, Action onTick)
    {
        _threadId = Environment.CurrentManagedThreadId;
        try
        {
            RunLoop(tickInterval, onTick);
        }
        finally
        {
            // Disposed from a handler on this thread, or while this thread was slow to stop: clean up here, last.
            if (Volatile.Read(ref _disposed) != 0)
            {
                CleanUp();
            }
        }
    }

    // Entered once and never left: precompiled (ReadyToRun, as in the container image) it would never be compiled again
    // with tiering's optimizations, and crossgen cannot inline across the .NET libraries' version bubble. Compiled at
    // its first call instead, fully optimized, as the loop's other methods end up.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void RunLoop(TimeSpan tickInterval, Action onTick)
    {
        var tickTicks = (long)(tickInterval.TotalSeconds * Stopwatch.Frequency);
        var nextTick = Stopwatch.GetTimestamp() + tickTicks;
        while (!_stopping)
        {
            if (_itemsDirty)
            {
                RebuildItems();
            }

            var fds = _fds;
            var entries = _entries;
            var due = _due;
            var anyDue = _selfPosted | CheckUnsettled(entries, due);
            if (_expectPost)
            {
                _expectPost = false;
                anyDue = anyDue || SpinForPosts();
            }

            for (var i = _firstDealer; i < entries.Length; i++)
            {
                fds[i].Events = entries[i].Dealer!.PollEvents;
            }

            var timeoutMs = anyDue ? 0 : PollTimeoutMs(nextTick - Stopwatch.GetTimestamp(), Stopwatch.Frequency);
            int ready;
            fixed (PollFd* items = fds)
            {
                ready = LibC.poll(items, (nuint)fds.Length, timeoutMs);
            }

            if (ready < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != LibZmq.Eintr)
            {
                return; // only a fault in the arguments gets here: nothing more can be served
            }

            var woken = ready > 0 && (fds[0].ReturnedEvents & LibZmq.PollIn) != 0;
            if (woken || _selfPosted)
            {
                DrainPosted(woken);
            }

            for (var i = 1; i < fds.Length && !_stopping; i++)
            {
                if (due[i] || (ready > 0 && fds[i].ReturnedEvents != 0))
                {
                    due[i] = false;
                    if (entries[i].Dealer is { } dealer)
                    {
                        HandleDealer(dealer, fds[i].Fd, ready > 0 ? fds[i].ReturnedEvents : (short)0);
                    }
                    else
                    {
                        Handle(entries[i]);
                    }
                }
            }

            // Work the handlers posted to this loop (a request made from an inline continuation, say) goes out now,
            // not after another poll.
            if (_selfPosted && !_stopping)
            {
                DrainPosted(woken: false);
            }

            // A handler that stopped at its batch limit may leave disconnect notices behind with nothing left to poll.
            for (var i = 0; i < _sockets.Count && !_stopping; i++)
            {
                if (_sockets[i].HasPendingNotices)
                {
                    Pump(_sockets[i]);
                }
            }

            if (!_stopping && Stopwatch.GetTimestamp() >= nextTick)
            {
                nextTick = Stopwatch.GetTimestamp() + tickTicks;
                LoopGuard.Run(_tickSockets ??= TickSockets, _logger, _name);
                LoopGuard.Run(onTick, _logger, _name);
            }

            if (!_stopping && _onTurnEnd is { } onTurnEnd)
            {
                LoopGuard.Run(onTurnEnd, _logger, _name);
            }
        }
    }

    /// <summary>
    /// The poll timeout that lets the loop sleep until the tick is due: rounded up to whole milliseconds, never down.
    /// Rounded down, poll returned up to a millisecond before the tick, and the loop spun on zero timeouts until it
    /// came: a core busy for half a millisecond every tick on average, in every loop of every process, idle or not.
    /// </summary>
    internal static int PollTimeoutMs(long remainingTicks, long ticksPerSecond) =>
        remainingTicks <= 0 ? 0 : (int)Math.Min((remainingTicks * 1000 + ticksPerSecond - 1) / ticksPerSecond, int.MaxValue);

    // A ZMQ_FD signals libzmq's commands, not messages, and any call on its socket may consume that signal: a socket
    // used since it last ran dry (a send, a handler that stopped early) is asked whether input waits before the loop
    // blocks. zmq_poll asks every socket twice per wait; this asks only those that need it.
    private static bool CheckUnsettled(PollEntry[] entries, bool[] due)
    {
        var any = false;
        for (var i = 1; i < entries.Length; i++)
        {
            if (entries[i].Dealer is { } dealer)
            {
                if (dealer.MayHaveInput)
                {
                    due[i] = any = true;
                }

                continue;
            }

            var (socket, isMonitor, _) = entries[i];
            var handle = isMonitor ? socket.Monitor! : socket.Handle;
            if ((isMonitor ? socket.MonitorSettled : socket.Settled) || handle.IsClosed)
            {
                continue;
            }

            if (NativeSocket.HasInput(handle))
            {
                due[i] = any = true;
            }
            else if (isMonitor)
            {
                socket.MonitorSettled = true;
            }
            else
            {
                socket.Settled = true;
            }
        }

        return any;
    }

    /// <summary>An own ZMTP socket the poll named (or one with input already read): a connect or write finished, input came.</summary>
    private void HandleDealer(Zmtp.ZmtpDealer dealer, int fd, short events)
    {
        if (dealer.Lingering)
        {
            if (dealer.Descriptor == fd && events != 0)
            {
                LoopGuard.Run(() => dealer.OnLingerEvents(events), _logger, _name);
            }

            return;
        }

        if (dealer.IsClosed || dealer.Descriptor != fd)
        {
            return; // closed, or reconnected, by an earlier handler of this turn
        }

        if ((events & (LibC.PollOut | LibC.PollErr | LibC.PollHup)) != 0)
        {
            LoopGuard.Run(dealer.OnWritable, _logger, _name);
        }

        if (!dealer.IsClosed && dealer.Descriptor >= 0)
        {
            SocketPump.Drain(dealer, dealer.Handler, _message, _onTurnEnd, _logger, _name);
        }
    }

    private void Handle(PollEntry entry)
    {
        var (socket, isMonitor, _) = entry;
        if (socket.Handle.IsClosed)
        {
            return; // removed by an earlier handler of this turn
        }

        // Whatever the handler does, the signal just seen is consumed: ask again before trusting the fd.
        if (isMonitor)
        {
            socket.MonitorSettled = false;
            socket.MonitorSignalled = true;
        }
        else
        {
            socket.Settled = false;
        }

        Pump(socket);
    }

    /// <inheritdoc/>
    public void ExpectPostSoon() => _expectPost = true;

    /// <summary>
    /// Looks for posted work for up to <see cref="PostSpin"/> before the loop blocks: the poster then finds the loop
    /// awake and writes no eventfd, and the loop's thread is not put to sleep and woken again (on a virtual machine, a
    /// wake-up costs tens of microseconds). True when work came.
    /// </summary>
    private bool SpinForPosts()
    {
        // Marked woken: a post meanwhile skips the eventfd write. Cleared with a full fence before the last look, so that
        // a post landing after it writes one (the same pairing as DrainPosted's).
        Volatile.Write(ref _wakePending, 1);
        var until = Stopwatch.GetTimestamp() + PostSpinTicks;
        var spins = 0;
        while (_posted.IsEmpty && Stopwatch.GetTimestamp() < until)
        {
            Thread.SpinWait(++spins < 8 ? 4 : 16);
        }

        Interlocked.Exchange(ref _wakePending, 0);
        _selfPosted |= !_posted.IsEmpty;
        return _selfPosted;
    }

    private void DrainPosted(bool woken)
    {
        if (woken)
        {
            ulong value;
            _ = LibC.read(_wakeFd, &value, sizeof(ulong));
            // A full fence, not a release: with a plain store, the queue below could be read before the cleared flag was
            // seen, and a post landing in between found the flag still set, wrote no wake-up, and sat unrun until the
            // next post (forever, for a caller waiting on it before posting more). Store then load needs the fence.
            Interlocked.Exchange(ref _wakePending, 0);
        }

        _selfPosted = false;

        // Bounded batch: a flood of posted work must not starve the sockets; what is left asks for another turn.
        for (var i = 0; i < 4096 && !_stopping && _posted.TryDequeue(out var work); i++)
        {
            LoopGuard.Run(work, _logger, _name);
        }

        if (!_posted.IsEmpty)
        {
            _selfPosted = true;
        }
    }

    private void RebuildItems()
    {
        var fds = new List<PollFd> { new() { Fd = _wakeFd, Events = LibZmq.PollIn } };
        var entries = new List<PollEntry> { default };
        foreach (var socket in _sockets)
        {
            fds.Add(new PollFd { Fd = NativeSocket.FileDescriptor(socket.Handle), Events = LibZmq.PollIn });
            entries.Add(new PollEntry(socket, false));
            socket.Settled = false;
            if (socket.Monitor is { } monitor)
            {
                fds.Add(new PollFd { Fd = NativeSocket.FileDescriptor(monitor), Events = LibZmq.PollIn });
                entries.Add(new PollEntry(socket, true));
                socket.MonitorSettled = false;
            }
        }

        _firstDealer = fds.Count;
        foreach (var dealer in _dealers)
        {
            if (dealer.Descriptor >= 0)
            {
                fds.Add(new PollFd { Fd = dealer.Descriptor, Events = dealer.PollEvents });
                entries.Add(new PollEntry(null!, false, dealer));
            }
        }

        _fds = [.. fds];
        _entries = [.. entries];
        _due = new bool[_fds.Length];
        _itemsDirty = false;
    }

    // Own ZMTP sockets come last in the poll set, from this index on.
    private int _firstDealer;

    private readonly record struct PollEntry(NativeSocket Socket, bool IsMonitor, Zmtp.ZmtpDealer? Dealer = null);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        WriteWake();
        if (_thread is null)
        {
            CleanUp();
        }
        else if (Environment.CurrentManagedThreadId != _threadId && _thread.Join(TimeSpan.FromSeconds(5)))
        {
            CleanUp();
        }

        // Otherwise the loop thread is still running (Dispose came from one of its own handlers, or it is stuck):
        // it closes its sockets itself when it leaves Run, never under its own feet.
    }

    private void CleanUp()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) != 0)
        {
            return;
        }

        foreach (var socket in _sockets.ToArray())
        {
            socket.Dispose();
        }

        var dealers = _dealers.ToArray();
        foreach (var dealer in dealers)
        {
            LoopGuard.Run(dealer.Dispose, _logger, _name);
        }

        // As libzmq's context waits for its sockets' linger: all of them together, so the wait is the longest one's.
        LoopGuard.Run(() => Zmtp.ZmtpLinger.LingerOut(dealers), _logger, _name);

        _sockets.Clear();
        _message.Clear(); // the last message's large frames, if any, held natively
        lock (_wakeFdLock)
        {
            _wakeFdClosed = true;
            _ = LibC.close(_wakeFd);
        }

        if (_onStopped is { } onStopped)
        {
            LoopGuard.Run(onStopped, _logger, _name);
        }
    }
}
