using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// A connecting DEALER that speaks ZMTP 3.1 (NULL mechanism) over TCP itself, on its loop's thread: reads and writes are
/// system calls the loop makes, with no libzmq I/O thread and mailbox between (docs/performance.md, "A DEALER of
/// Courier's own"). It behaves as libzmq's DEALER does for one endpoint: messages sent before the connection is up, or
/// while it is down, wait (up to the high-water mark); it reconnects with backoff; it answers PINGs and, when heartbeats
/// are on, pings and drops a silent connection. Loop thread only.
/// </summary>
internal sealed partial class ZmtpDealer : ITransportSocket, IPumpedSocket
{
    private enum State
    {
        Idle,
        Connecting,
        Greeting,
        Ready,
    }

    private readonly TransportOptions _options;
    private readonly Action<ZmtpDealer> _onDispose;
    private readonly Action _onDescriptorChanged;
    private readonly ILogger _logger;
    private readonly ZmtpInbound _inbound;
    private readonly ZmtpOutbound _outbound = new();
    private readonly byte[] _pong = new byte[2 + 5 + 16];
    private readonly long _frequency = Stopwatch.Frequency;
    private IPEndPoint? _peer;
    private State _state;
    private bool _greeted;
    private bool _disposed;
    private long _retryAt;
    private long _backoffTicks;
    private long _handshakeDeadline;
    private long _lastHeard;
    private long _nextPing;

    public ZmtpDealer(TransportOptions options, ISocketHandler handler, Action<ZmtpDealer> onDispose, Action onDescriptorChanged, ILogger logger)
    {
        _options = options;
        Handler = handler;
        _onDispose = onDispose;
        _onDescriptorChanged = onDescriptorChanged;
        _logger = logger;
        _inbound = new ZmtpInbound(options.MaxFrameSize, options.MaxFramesPerMessage);
        Frames = new FrameLimit(options, logger);
        _backoffTicks = Ticks(options.ReconnectInterval);
    }

    internal ISocketHandler Handler { get; }

    private FrameLimit Frames { get; }

    /// <summary>The connection's descriptor, or -1 while there is none.</summary>
    internal int Descriptor { get; private set; } = -1;

    /// <summary>What the loop should wait for on <see cref="Descriptor"/>: input always, output while some waits.</summary>
    internal short PollEvents => _linger?.PollEvents ?? (short)(Native.LibZmq.PollIn | (_state == State.Connecting || (_state == State.Ready && !_awaitingReady && _outbound.Bytes > 0) || (_state == State.Greeting && !_greeted) ? Native.LibC.PollOut : 0));

    /// <summary>Whether a whole message may already be read and waiting: the loop pumps the socket before it sleeps.</summary>
    internal bool MayHaveInput { get; private set; }

    /// <summary>Whose socket it is (<c>courier.role</c>), for the byte counters.</summary>
    public string Role { get; set; } = Diagnostics.Internal.TelemetryRole.Client;

    public SendRefusal LastRefusal { get; private set; }

    public long LargestPendingBytes => _outbound.Bytes;

    /// <summary>
    /// For a socket whose unwritten bytes are counted (a worker's): sends are refused with
    /// <see cref="SendRefusal.OverBudget"/> past this many bytes not yet written (<see cref="TransportOptions.MaxPendingBytesPerPeer"/>).
    /// Null: only the high-water mark refuses.
    /// </summary>
    public long? UnwrittenBudget { get; init; }

    public bool IsClosed => _disposed;

    public string Bind(string endpoint) => throw new NotSupportedException("Courier's own ZMTP socket only connects.");

    public void Connect(string endpoint)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_peer is not null)
        {
            throw new NotSupportedException("Courier's own ZMTP socket connects to one endpoint.");
        }

        _peer = Parse(endpoint) ?? throw new ArgumentException($"'{endpoint}' is not a tcp:// endpoint with an IP address.", nameof(endpoint));
        StartConnect();
    }

    /// <summary>Whether <paramref name="endpoint"/> is one this socket can connect to: tcp://, an IP address, a port.</summary>
    internal static IPEndPoint? Parse(string endpoint)
    {
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = endpoint.AsSpan(6);
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(rest[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port == 0)
        {
            return null;
        }

        var host = rest[..colon];
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
        }

        return IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : null;
    }

    public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Not connected to anything yet (its host name still resolving): refused, as libzmq's DEALER refuses a send with
        // no pipe, so that nothing sent before the connect arrives after it (the client probes again once connected).
        var size = ZmtpOutbound.SizeOf(frames);
        if (_peer is null || _outbound.Messages >= _options.SendHighWatermark || _outbound.Bytes + size > MaxQueuedBytes)
        {
            LastRefusal = SendRefusal.QueueFull;
            return false;
        }

        // A worker's budget: what its broker has not read, counted to the byte (one message larger than the whole budget
        // still goes when nothing waits). As on libzmq's count, a message under 1 KiB is never refused for it: a READY,
        // a heartbeat or a probe must not be lost to a broker slow to read replies (the high-water mark bounds them).
        if (UnwrittenBudget is { } budget && size >= PendingBytes.TrackedMinimum && _outbound.Bytes > 0 && _outbound.Bytes + size > budget)
        {
            LastRefusal = SendRefusal.OverBudget;
            return false;
        }

        TransportTelemetry.Sent(frames, Role);
        if (size >= DirectSendMinimum && frames.Length <= Tcp.MaxGatheredFrames && _outbound.IsEmpty && _state == State.Ready && !_awaitingReady)
        {
            // A large message with nothing before it goes straight from the caller's memory; only what the kernel does
            // not take now is copied into the queue.
            var sent = Tcp.SendGathered(Descriptor, frames);
            if (sent < 0)
            {
                _outbound.Enqueue(frames);
                Fail($"a write failed (errno {-sent})");
            }
            else if (sent < size)
            {
                _outbound.EnqueueRest(frames, sent);
            }

            return true;
        }

        _outbound.Enqueue(frames);
        if (_state == State.Ready)
        {
            Flush();
        }

        return true;
    }

    public Received TryReceive(MessageFrames message)
    {
        try
        {
            return Receive(message);
        }
        finally
        {
            // PONGs queued while reading leave together, once per call: a PING flood costs a write per call, not per PING.
            if (_pongQueued)
            {
                Flush();
            }
        }
    }

    private Received Receive(MessageFrames message)
    {
        var commands = 0;
        while (!_disposed && Descriptor >= 0)
        {
            if (_state == State.Ready)
            {
                switch (_inbound.TryTake(message))
                {
                    case Inbound.Message when _awaitingReady:
                        Fail("a message before READY");
                        return Received.Nothing;
                    case Inbound.Message:
                        MayHaveInput = _inbound.Buffered > 0;
                        return Received.Message;
                    case Inbound.Dropped:
                        Frames.Dropped(_inbound.DroppedFrames, Role);
                        MayHaveInput = _inbound.Buffered > 0;
                        return Received.Dropped;
                    case Inbound.Command:
                        OnCommand(_inbound.CommandBody);
                        if (++commands == MaxCommandsPerCall)
                        {
                            // A stream of commands (PINGs) yields the loop like messages do; the loop comes back for the rest.
                            MayHaveInput = true;
                            return Received.Nothing;
                        }

                        continue;
                    case Inbound.Violation:
                        Fail(_inbound.Problem);
                        return Received.Nothing;
                }
            }
            else if (_state == State.Greeting && !Handshake())
            {
                continue; // it failed, or it went on to Ready: look again
            }

            if (_state == State.Connecting)
            {
                return Received.Nothing; // the loop hears when the connect is done (writable)
            }

            var read = Tcp.Receive(Descriptor, _inbound.FreeSpace);
            if (read > 0)
            {
                _inbound.Advance(read);
                _lastHeard = Now;
                continue;
            }

            if (read == -Tcp.EAgain)
            {
                break;
            }

            Fail(read == 0 ? "the peer closed the connection" : $"a read failed (errno {-read})");
        }

        MayHaveInput = false;
        return Received.Nothing;
    }

    /// <summary>The loop saw <see cref="Descriptor"/> writable: a connect finished, or the kernel took what it had.</summary>
    internal void OnWritable()
    {
        if (_state == State.Connecting)
        {
            var error = Tcp.ConnectError(Descriptor);
            if (error != 0)
            {
                Fail($"connect failed (errno {error})", quiet: true);
                return;
            }

            _state = State.Greeting;
            _handshakeDeadline = Now + Ticks(_options.HandshakeTimeout);
        }

        if (_state == State.Greeting && !_greeted)
        {
            // Greeting and READY together: 94 bytes a fresh socket's buffer always takes.
            Span<byte> hello = stackalloc byte[ZmtpWire.GreetingSize + ZmtpWire.ReadyDealer.Length];
            ZmtpWire.Greeting.CopyTo(hello);
            ZmtpWire.ReadyDealer.CopyTo(hello[ZmtpWire.GreetingSize..]);
            var sent = Tcp.Send(Descriptor, hello);
            if (sent != hello.Length)
            {
                Fail(sent < 0 ? $"a write failed (errno {-sent})" : "the greeting did not fit the socket's buffer");
                return;
            }

            _greeted = true;
            return;
        }

        if (_state == State.Ready)
        {
            Flush();
        }
    }

    /// <summary>Reads the peer's greeting and READY: false when the state changed (failed, or ready), true when more must be read.</summary>
    private bool Handshake()
    {
        if (!_greeted)
        {
            return true;
        }

        if (!_inbound.TryTakeRaw(ZmtpWire.GreetingSize, out var greeting))
        {
            return true;
        }

        if (ZmtpWire.GreetingProblem(greeting) is { } problem)
        {
            Fail(problem);
            return false;
        }

        _state = State.Ready;
        // The READY comes as the first command: read through the ready state's reading, checked there.
        _awaitingReady = true;
        return false;
    }

    private bool _awaitingReady;

    /// <summary>A message this large is sent straight from its frames when nothing waits before it (one copy fewer).</summary>
    internal const int DirectSendMinimum = 64 * 1024;

    /// <summary>Bytes queued for one connection before sends are refused: one array holds them, and it must stay an array.</summary>
    internal const long MaxQueuedBytes = 1L << 30;

    // A PONG queued in this call and not yet flushed; one flushed but still behind bytes the kernel has not taken.
    private bool _pongQueued;
    private bool _pongUnwritten;

    /// <summary>Commands read per <see cref="TryReceive"/> before it yields to the loop.</summary>
    private const int MaxCommandsPerCall = 256;

    private void OnCommand(ReadOnlySpan<byte> body)
    {
        var name = ZmtpWire.CommandName(body);
        if (_awaitingReady)
        {
            if (ZmtpWire.ReadyProblem(body) is { } problem)
            {
                Fail(problem);
                return;
            }

            _awaitingReady = false;
            _backoffTicks = Ticks(_options.ReconnectInterval);
            _nextPing = Now + Ticks(_options.HeartbeatInterval);
            Flush();
            return;
        }

        if (name.SequenceEqual("PING"u8))
        {
            // One PONG waiting at a time (libzmq keeps one too): a peer that pings and never reads fills nothing.
            if (!_pongQueued && !_pongUnwritten)
            {
                _outbound.EnqueueCommand(_pong.AsSpan(0, ZmtpWire.WritePong(_pong, body)));
                _pongQueued = true;
            }
        }
        else if (name.SequenceEqual("ERROR"u8))
        {
            Fail("the peer sent ERROR");
        }

        // PONG (its arrival already counted as hearing from the peer) and commands this side does not know: ignored.
    }

    private void Flush()
    {
        if (_awaitingReady || Descriptor < 0)
        {
            return;
        }

        var result = _outbound.WriteTo(Descriptor);
        _pongUnwritten = _outbound.Bytes > 0 && (_pongUnwritten || _pongQueued);
        _pongQueued = false;
        if (result < 0)
        {
            Fail($"a write failed (errno {-result})");
        }
    }

    /// <summary>The loop's tick: reconnects when due, and ends a connection that is stuck in its handshake or silent.</summary>
    internal void OnTick()
    {
        if (Lingering)
        {
            _ = LingerTick(Now);
            return;
        }

        if (_disposed || _peer is null)
        {
            return;
        }

        var now = Now;
        if (Descriptor < 0)
        {
            if (now >= _retryAt)
            {
                StartConnect();
            }

            return;
        }

        if (_state != State.Ready || _awaitingReady)
        {
            if (now >= _handshakeDeadline)
            {
                var connecting = _state == State.Connecting;
                Fail(connecting ? "connect timed out" : "no handshake within TransportOptions.HandshakeTimeout", quiet: connecting);
            }

            return;
        }

        if (!_options.Pings(SocketKind.Dealer))
        {
            return;
        }

        if (now - _lastHeard >= Ticks(_options.HeartbeatTimeout))
        {
            Fail("nothing heard within TransportOptions.HeartbeatTimeout");
        }
        else if (now >= _nextPing)
        {
            _nextPing = now + Ticks(_options.HeartbeatInterval);
            _outbound.EnqueueCommand(ZmtpWire.Ping);
            Flush();
        }
    }

    private void StartConnect()
    {
        var fd = Tcp.Connect(_peer!, out var error);
        if (fd < 0)
        {
            ScheduleRetry();
            ZmtpLog.ConnectFailed(_logger, _peer!.ToString(), error);
            return;
        }

        Descriptor = fd;
        _state = State.Connecting;
        _greeted = false;
        _awaitingReady = false;
        _lastHeard = Now;
        // A connect the kernel leaves pending (an unanswered SYN) is given the handshake's time too.
        _handshakeDeadline = Now + Ticks(_options.HandshakeTimeout);
        _onDescriptorChanged();
    }

    /// <summary>The connection ends: what was read goes, a half-written message goes, and a reconnect is scheduled.</summary>
    private void Fail(string why, bool quiet = false)
    {
        // Closed before it is logged: a logger that throws must not leave the connection open with its bad bytes.
        CloseConnection();
        _outbound.ConnectionEnded();
        ScheduleRetry();
        if (!quiet)
        {
            ZmtpLog.ConnectionEnded(_logger, _peer?.ToString() ?? "", why);
        }
    }

    private void ScheduleRetry()
    {
        _retryAt = Now + _backoffTicks;
        _backoffTicks = Math.Min(_backoffTicks * 2, Ticks(_options.ReconnectIntervalMax));
    }

    private void CloseConnection()
    {
        if (Descriptor >= 0)
        {
            Tcp.Close(Descriptor);
            Descriptor = -1;
            _onDescriptorChanged();
        }

        _state = State.Idle;
        _greeted = false;
        _awaitingReady = false;
        _pongQueued = _pongUnwritten = false;
        MayHaveInput = false;
        _inbound.Reset();
    }

    // Disposed with bytes still to write and TransportOptions.Linger set: the connection's last bytes (ZmtpLinger).
    private ZmtpLinger? _linger;

    /// <summary>Disposed and still writing its last bytes on the loop, for <see cref="TransportOptions.Linger"/> at most (<see cref="ZmtpLinger"/>).</summary>
    internal bool Lingering => _linger is not null;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        MayHaveInput = false;
        if (_state == State.Ready && !_awaitingReady && _options.Linger > TimeSpan.Zero)
        {
            var linger = new ZmtpLinger(Descriptor, _outbound, Now + Ticks(_options.Linger));
            if (linger.Begin())
            {
                _linger = linger;
                _onDescriptorChanged(); // its events change: no more messages
                return;
            }
        }

        Close();
    }

    /// <summary>The loop saw a lingering connection's descriptor ready: it writes and reads on, and closes once done.</summary>
    internal void OnLingerEvents(short events)
    {
        if (_linger is { } linger && !linger.Step(events))
        {
            Close();
        }
    }

    /// <summary>The tick of a lingering connection: closed once past its deadline. False once it no longer lingers.</summary>
    internal bool LingerTick(long now)
    {
        if (_linger is { } linger && linger.Expired(now))
        {
            Close();
        }

        return Lingering;
    }

    private void Close()
    {
        if (Descriptor >= 0 && _linger is null)
        {
            // Input left unread would have the close reset the connection, and the kernel drop what it had not yet sent.
            _ = ZmtpLinger.DiscardInput(Descriptor);
        }

        _linger = null;
        CloseConnection();
        _outbound.Clear();
        _inbound.Dispose();
        _onDispose(this);
    }

    private static long Now => Stopwatch.GetTimestamp();

    private long Ticks(TimeSpan span) => (long)(Math.Min(span.TotalSeconds, 1e6) * _frequency);
}

/// <summary>The own ZMTP socket's log lines.</summary>
internal static partial class ZmtpLog
{
    [LoggerMessage(240, LogLevel.Debug, "Connection to {Peer} ended: {Reason}; reconnecting")]
    public static partial void ConnectionEnded(ILogger logger, string peer, string reason);

    [LoggerMessage(241, LogLevel.Debug, "Could not begin a connection to {Peer} (errno {Error}); retrying")]
    public static partial void ConnectFailed(ILogger logger, string peer, int error);
}
