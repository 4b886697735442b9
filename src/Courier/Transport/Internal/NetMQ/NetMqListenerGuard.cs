using System.Net.Sockets;
using AsyncIO;
using Courier.Internal;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Monitoring;
using NetMQ.Sockets;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// What libzmq's handshake interval and <see cref="Native.ConnectionLimit"/> do for a native listener, for a NetMQ one,
/// which has neither: from the socket monitor's ACCEPTED and DISCONNECTED events it counts the connections held and ends
/// one accepted past <see cref="TransportOptions.MaxConnections"/>, and ends one that has not delivered a whole
/// handshake by <see cref="TransportOptions.HandshakeTimeout"/>. NetMQ tells nothing of a connection's handshake, so the
/// kernel's count of bytes received (TCP_INFO) stands for it: fewer than a ZMTP 3 greeting and the smallest READY
/// command, and the connection is idle or half-greeted (docs/guide.md, Limits against hostile peers, says what this does
/// not catch). A connection is ended with shutdown(2), as on the native transport: NetMQ sees its end and closes it on
/// its own thread. Linux only (AsyncIO wraps a .NET socket there; elsewhere the guard logs once that it cannot act).
/// All of a process's managed listeners also share one budget, half the descriptors it had left when the first was
/// made: NetMQ's I/O thread dies of an accept(2) that fails with EMFILE. Loop thread only, but for <see cref="Dispose"/>.
/// </summary>
internal sealed partial class NetMqListenerGuard : IDisposable
{
    /// <summary>A ZMTP 3 greeting (64 bytes) and the smallest READY a ROUTER's peer sends (27 bytes: Socket-Type REQ).</summary>
    internal const long GreetedBytes = 64 + 27;

    private readonly NetMQPoller _poller;
    private readonly NetMQMonitor _monitor;
    private readonly NetMQTimer _timer;
    private readonly ILogger _logger;
    private readonly ViolationLog _violations;
    private readonly long _handshakeTicks;
    private readonly Dictionary<AsyncSocket, Held> _open = new(ReferenceEqualityComparer.Instance);
    // Accepted in order, and the timeout is the same for all: the oldest is always due first. An entry whose connection
    // is gone lets go of its socket at once; the queue is compacted when gone entries outnumber the held ones.
    private readonly Queue<Held> _greeting = new();
    private long _lastSweep;
    private bool _disposed;
    private bool _toldUnable;

    // Every managed listener of the process against one budget of descriptors (see the summary).
    private static int _processConnections;
    private static readonly Lazy<int> ProcessMax = new(() => Native.ConnectionLimit.Effective(int.MaxValue, share: 2));

    public NetMqListenerGuard(NetMQSocket listener, TransportOptions options, NetMQPoller poller, ILogger logger, ViolationLog violations)
    {
        Max = Native.ConnectionLimit.Effective(options.MaxConnections, share: 2);
        _poller = poller;
        _logger = logger;
        _violations = violations;
        // As libzmq's ZMQ_HANDSHAKE_IVL, an int of milliseconds at most: no overflow of the deadline.
        _handshakeTicks = (long)(Math.Min(options.HandshakeTimeout.TotalSeconds, int.MaxValue / 1000.0) * System.Diagnostics.Stopwatch.Frequency);
        var endpoint = $"inproc://courier-guard-{Environment.ProcessId}-{Guid.NewGuid():N}";
        listener.Monitor(endpoint, SocketEvents.Accepted | SocketEvents.Disconnected);
        // NetMQ drops a monitor event that finds the pipe full: an unbounded receiving end, so none is lost.
        var pair = new PairSocket();
        pair.Options.ReceiveHighWatermark = 0;
        pair.Options.Linger = TimeSpan.Zero;
        _monitor = new NetMQMonitor(pair, endpoint, ownsSocket: true);
        _monitor.Accepted += (_, e) => Guarded(() => Accepted(e.Socket));
        _monitor.Disconnected += (_, e) => Guarded(() => Disconnected(e.Socket));
        _monitor.AttachToPoller(poller);
        var tick = TimeSpan.FromTicks(Math.Clamp(options.HandshakeTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        _timer = new NetMQTimer(tick) { Enable = false };
        _timer.Elapsed += (_, _) => Guarded(CloseUngreeted);
        poller.Add(_timer);
    }

    /// <summary>The limit in force (as <see cref="Native.ConnectionLimit.Effective"/> makes it).</summary>
    public int Max { get; }

    /// <summary>The listener's endpoint, for the log.</summary>
    public string Endpoint { get; set; } = "";

    private void Accepted(AsyncSocket? connection)
    {
        if (connection is null)
        {
            return; // already collected: it is gone
        }

        if (AcceptedSockets.SocketOf(connection) is not { } socket)
        {
            if (!_toldUnable)
            {
                _toldUnable = true;
                Unable(_logger, Endpoint);
            }

            return;
        }

        if (Full())
        {
            SweepClosed();
        }

        if (Full())
        {
            // Not counted: it ends now, and its DISCONNECTED finds nothing to remove.
            End(socket);
            if (_violations.Admit(ViolationKind.ConnectionLimit))
            {
                Native.ConnectionLimit.Refused(_logger, Endpoint, Math.Min(Max, ProcessMax.Value));
            }

            return;
        }

        var held = new Held(socket, System.Diagnostics.Stopwatch.GetTimestamp() + _handshakeTicks);
        _open[connection] = held;
        Interlocked.Increment(ref _processConnections);
        _greeting.Enqueue(held);
        _timer.Enable = true;
    }

    private bool Full() => _open.Count >= Max || Volatile.Read(ref _processConnections) >= ProcessMax.Value;

    private void Disconnected(AsyncSocket? connection)
    {
        if (connection is not null && _open.Remove(connection, out var held))
        {
            Forget(held);
        }

        if (_greeting.Count > 64 && _greeting.Count > 2 * _open.Count)
        {
            // Connections that come and go faster than the timeout: what the queue holds stays in proportion to the held.
            var live = _greeting.Where(h => h.Socket is not null).ToList();
            _greeting.Clear();
            live.ForEach(_greeting.Enqueue);
        }
    }

    private static void Forget(Held held)
    {
        held.Socket = null;
        Interlocked.Decrement(ref _processConnections);
    }

    private void CloseUngreeted()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (_greeting.TryPeek(out var next) && next.Due <= now)
        {
            _greeting.Dequeue();
            if (AcceptedSockets.BytesReceived(next.Socket) is not { } received || received >= GreetedBytes)
            {
                continue; // gone, greeted, or nothing to tell by
            }

            End(next.Socket);
            if (_violations.Admit(ViolationKind.HandshakeTimeout))
            {
                Ungreeted(_logger, Endpoint, received);
            }
        }

        _timer.Enable = _greeting.Count > 0;
    }

    /// <summary>
    /// Drops connections whose socket NetMQ has closed without a DISCONNECTED event reaching here (a full count must be
    /// true before a connection is refused); at most once a second, as an attacker at the limit calls it per connection.
    /// </summary>
    private void SweepClosed()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (now - _lastSweep < System.Diagnostics.Stopwatch.Frequency)
        {
            return;
        }

        _lastSweep = now;
        List<AsyncSocket>? closed = null;
        foreach (var (connection, held) in _open)
        {
            if (held.Socket is { SafeHandle.IsClosed: true })
            {
                (closed ??= []).Add(connection);
            }
        }

        closed?.ForEach(c => Disconnected(c));
    }

    private static void End(Socket? socket)
    {
        try
        {
            socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone: NetMQ closed it, or the peer did.
        }
    }

    private void Guarded(Action work) => LoopGuard.Run(work, _logger, "listener guard");

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var held in _open.Values)
        {
            Forget(held);
        }

        _open.Clear();
        _timer.Enable = false;
        _poller.Remove(_timer);
        _monitor.Dispose(); // detaches its PAIR from the poller and disposes it
    }

    /// <summary>An accepted connection, until it is gone; what the handshake check needs of it.</summary>
    private sealed class Held(Socket socket, long due)
    {
        public Socket? Socket { get; set; } = socket;

        public long Due { get; } = due;
    }

    [LoggerMessage(213, LogLevel.Warning, "Listener {Endpoint} cannot bound its connections here (TransportOptions.MaxConnections, HandshakeTimeout): NetMQ's sockets on this platform expose no descriptor")]
    private static partial void Unable(ILogger logger, string endpoint);

    [LoggerMessage(212, LogLevel.Warning, "Listener {Endpoint} closed a connection that sent {Bytes} bytes, not a whole handshake, within TransportOptions.HandshakeTimeout")]
    private static partial void Ungreeted(ILogger logger, string endpoint, long bytes);
}
