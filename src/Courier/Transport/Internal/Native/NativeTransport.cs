namespace Courier.Transport.Internal.Native;

/// <summary>The native transport: libzmq 4.3 through P/Invoke.</summary>
internal sealed unsafe class NativeTransport : ITransport
{
    private static readonly Lazy<nint> SharedContext = new(() =>
    {
        AllocatorTuning.Apply();
        var context = LibZmq.zmq_ctx_new();
        return context != 0 ? context : throw new InvalidOperationException("zmq_ctx_new failed: " + LibZmq.LastError());
    });

    private static int _monitorCount;

    public static NativeTransport Instance { get; } = new();

    public string Name => "native";

    /// <summary>Creates a socket for a loop, every limit in <paramref name="options"/> applied.</summary>
    internal static NativeSocket CreateSocket(SocketKind kind, TransportOptions options, ISocketHandler handler, bool reportDisconnects, Action<NativeSocket> onDispose, Microsoft.Extensions.Logging.ILogger logger, bool countUnwritten = false)
    {
        options.Validate();
        var type = kind switch
        {
            SocketKind.Router => LibZmq.Router,
            SocketKind.Dealer => LibZmq.Dealer,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown socket kind."),
        };
        var socket = CreateRaw(type);
        try
        {
            SetLong(socket, LibZmq.OptMaxMsgSize, options.MaxFrameSize);
            SetInt(socket, LibZmq.OptSendHwm, options.SendHighWatermark);
            SetInt(socket, LibZmq.OptReceiveHwm, options.ReceiveHighWatermark);
            SetInt(socket, LibZmq.OptLinger, Milliseconds(options.Linger));
            // ZMTP heartbeats only on connecting sockets (clients, workers), and without a TTL: libzmq 4.3 cancels a
            // connection's heartbeat timers by walking every timer of its I/O thread, so a listener that pinged its
            // peers, or kept a TTL timer for each peer's pings, spent a core on 8,000 idle connections (one I/O thread
            // at 100 % in std::_Rb_tree_increment; 0 % without). A listener answers its peers' pings (so they, and nginx
            // between, see traffic) and finds dead peers by TCP keepalive, which the kernel times. Zero is off, set
            // explicitly like every other setting.
            var pings = options.Pings(kind);
            SetInt(socket, LibZmq.OptHeartbeatInterval, pings ? Milliseconds(options.HeartbeatInterval) : 0);
            if (pings)
            {
                SetInt(socket, LibZmq.OptHeartbeatTimeout, Milliseconds(options.HeartbeatTimeout));
            }
            else if (options.HeartbeatsEnabled)
            {
                SetInt(socket, LibZmq.OptTcpKeepalive, 1);
                SetInt(socket, LibZmq.OptTcpKeepaliveIdle, options.KeepaliveIdleSeconds);
                SetInt(socket, LibZmq.OptTcpKeepaliveInterval, options.KeepaliveIntervalSeconds);
                SetInt(socket, LibZmq.OptTcpKeepaliveCount, 3);
            }
            if (kind == SocketKind.Router)
            {
                // A reply that cannot be queued (its peer gone, or at the high-water mark) is refused, so it is counted and
                // logged, instead of vanishing silently.
                SetInt(socket, LibZmq.OptRouterMandatory, 1);
            }

            SetInt(socket, LibZmq.OptHandshakeInterval, Math.Max(1, Milliseconds(options.HandshakeTimeout)));
            SetInt(socket, LibZmq.OptReconnectInterval, Milliseconds(options.ReconnectInterval));
            SetInt(socket, LibZmq.OptReconnectIntervalMax, Milliseconds(options.ReconnectIntervalMax));
            if (options.Curve is { } curve)
            {
                SetCurve(socket, curve);
            }

            ZmqSocketHandle? monitor = null;
            // Only ROUTERs listen (servers, brokers): their connections are counted against MaxConnections.
            var violations = kind == SocketKind.Router ? Courier.Internal.ViolationLog.ForListener(logger, options) : null;
            var limit = violations is not null
                ? new ConnectionLimit(ConnectionLimit.Effective(options.MaxConnections), logger, violations)
                : null;
            if (reportDisconnects || limit is not null)
            {
                // libzmq 4.3 without draft APIs has no ZMQ_DISCONNECT_MSG: a socket monitor reports each dropped
                // connection's file descriptor, which the socket maps back to the peer's routing id.
                var address = $"inproc://courier-monitor-{Environment.ProcessId}-{Interlocked.Increment(ref _monitorCount)}";
                Check(LibZmq.zmq_socket_monitor(socket.DangerousGetHandle(), address, LibZmq.EventDisconnected | (limit is null ? 0 : LibZmq.EventAccepted)), "zmq_socket_monitor");
                monitor = CreateRaw(LibZmq.Pair);
                SetInt(monitor, LibZmq.OptLinger, 0);
                // Unbounded: the I/O thread must never block on a full monitor pipe (it sends events blocking).
                SetInt(monitor, LibZmq.OptReceiveHwm, 0);
                Check(LibZmq.zmq_connect(monitor.DangerousGetHandle(), address), "zmq_connect monitor");
            }

            var created = new NativeSocket(socket, monitor, handler, onDispose, reportDisconnects, limit)
            {
                ReadsUserId = options.Curve is { IsServer: true },
                Frames = new FrameLimit(options, logger),
                Unfinished = violations is not null
                    ? new UnfinishedMessages(UnfinishedMessages.Effective(options.NativeHeapBudget), logger, violations)
                    : null,
            };
            // A listener's peers may be hostile: each one's unwritten bytes are bounded. So is a worker's one peer, its
            // broker (counted when asked for: a worker's stop also waits for the count): one that sends requests and never
            // reads had the worker queue up to the high-water mark of replies, 10,000 of any size.
            return kind == SocketKind.Router ? created.WithBacklog(options.MaxPendingBytesPerPeer)
                : countUnwritten ? created.WithBacklog(options.MaxPendingBytesPerPeer, onePeer: true) : created;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ITransportLoop CreateLoop(string name, Microsoft.Extensions.Logging.ILogger logger) => new NativeLoop(name, logger);

    internal static ZmqSocketHandle CreateRaw(int type)
    {
        var raw = LibZmq.zmq_socket(SharedContext.Value, type);
        return raw != 0 ? new ZmqSocketHandle(raw) : throw new InvalidOperationException("zmq_socket failed: " + LibZmq.LastError());
    }

    /// <summary>Before bind or connect: a socket's mechanism is fixed when its connections are made.</summary>
    private static void SetCurve(ZmqSocketHandle socket, CurveSettings curve)
    {
        if (curve.IsServer)
        {
            // The ZAP domain first: with it, libzmq asks the ZAP handler about every client.
            var domain = System.Text.Encoding.UTF8.GetBytes(curve.ZapDomain ?? string.Empty);
            fixed (byte* value = domain)
            {
                Check(LibZmq.zmq_setsockopt(socket.DangerousGetHandle(), LibZmq.OptZapDomain, value, (nuint)domain.Length), "ZMQ_ZAP_DOMAIN");
            }

            SetInt(socket, LibZmq.OptCurveServer, 1);
        }
        else
        {
            SetBytes(socket, LibZmq.OptCurveServerKey, curve.ServerKey!);
        }

        SetBytes(socket, LibZmq.OptCurvePublicKey, curve.PublicKey);
        SetBytes(socket, LibZmq.OptCurveSecretKey, curve.SecretKey);
    }

    private static void SetBytes(ZmqSocketHandle socket, int option, byte[] value)
    {
        fixed (byte* data = value)
        {
            Check(LibZmq.zmq_setsockopt(socket.DangerousGetHandle(), option, data, (nuint)value.Length), $"zmq_setsockopt({option})");
        }
    }

    private static int Milliseconds(TimeSpan value) => (int)Math.Clamp(value.TotalMilliseconds, 0, int.MaxValue);

    internal static void SetInt(ZmqSocketHandle socket, int option, int value)
        => Check(LibZmq.zmq_setsockopt(socket.DangerousGetHandle(), option, &value, sizeof(int)), $"zmq_setsockopt({option})");

    private static void SetLong(ZmqSocketHandle socket, int option, long value)
        => Check(LibZmq.zmq_setsockopt(socket.DangerousGetHandle(), option, &value, sizeof(long)), $"zmq_setsockopt({option})");

    internal static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"{what} failed: {LibZmq.LastError()}");
        }
    }
}
