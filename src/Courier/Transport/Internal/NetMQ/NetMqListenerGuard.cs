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
/// command, and the connection is idle or half-greeted (docs/security.md says what this does not catch). A connection is
/// ended with shutdown(2), as on the native transport: NetMQ sees its end and closes it on its own thread. Loop thread
/// only, but for <see cref="Dispose"/>.
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
    private readonly Dictionary<AsyncSocket, Socket?> _open = new(ReferenceEqualityComparer.Instance);
    // Accepted in order, and the timeout is the same for all: the oldest is always due first.
    private readonly Queue<(AsyncSocket Connection, long Due)> _greeting = new();
    private long _lastSweep;
    private bool _disposed;

    public NetMqListenerGuard(NetMQSocket listener, TransportOptions options, NetMQPoller poller, ILogger logger, ViolationLog violations)
    {
        Max = Native.ConnectionLimit.Effective(options.MaxConnections, share: 2);
        _poller = poller;
        _logger = logger;
        _violations = violations;
        _handshakeTicks = (long)(options.HandshakeTimeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
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

    /// <summary>Connections held now.</summary>
    public int Connections => _open.Count;

    /// <summary>The listener's endpoint, for the log.</summary>
    public string Endpoint { get; set; } = "";

    private void Accepted(AsyncSocket? connection)
    {
        if (connection is null)
        {
            return; // already collected: it is gone
        }

        var socket = AcceptedSockets.SocketOf(connection);
        if (_open.Count >= Max)
        {
            SweepClosed();
        }

        if (_open.Count >= Max)
        {
            // Not counted: it ends now, and its DISCONNECTED finds nothing to remove.
            End(socket);
            if (_violations.Admit(ViolationKind.ConnectionLimit))
            {
                Refused(_logger, Endpoint, Max);
            }

            return;
        }

        _open[connection] = socket;
        _greeting.Enqueue((connection, System.Diagnostics.Stopwatch.GetTimestamp() + _handshakeTicks));
        _timer.Enable = true;
    }

    private void Disconnected(AsyncSocket? connection)
    {
        if (connection is not null)
        {
            _open.Remove(connection);
        }
    }

    private void CloseUngreeted()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (_greeting.TryPeek(out var next) && next.Due <= now)
        {
            _greeting.Dequeue();
            if (!_open.TryGetValue(next.Connection, out var socket) || AcceptedSockets.BytesReceived(socket) is not { } received
                || received >= GreetedBytes)
            {
                continue; // gone, greeted, or nothing to tell by
            }

            End(socket);
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
        foreach (var (connection, socket) in _open)
        {
            if (socket is { SafeHandle.IsClosed: true })
            {
                (closed ??= []).Add(connection);
            }
        }

        closed?.ForEach(c => _open.Remove(c));
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
        _timer.Enable = false;
        _poller.Remove(_timer);
        _monitor.Dispose(); // detaches its PAIR from the poller and disposes it
    }

    [LoggerMessage(211, LogLevel.Warning, "Listener {Endpoint} holds its limit of {Max} connections (TransportOptions.MaxConnections); closed a new one")]
    private static partial void Refused(ILogger logger, string endpoint, int max);

    [LoggerMessage(212, LogLevel.Warning, "Listener {Endpoint} closed a connection that sent {Bytes} bytes, not a whole handshake, within TransportOptions.HandshakeTimeout")]
    private static partial void Ungreeted(ILogger logger, string endpoint, long bytes);
}
