using Courier.Transport.Internal;

namespace Courier.Transport;

/// <summary>
/// Limits and keep-alive settings applied explicitly to every ZeroMQ socket Courier opens.
/// Nothing is left at the library default: an unlimited message size lets one forged frame header
/// take the process down, and unbounded queues turn overload into memory exhaustion.
/// </summary>
public sealed record TransportOptions
{
    /// <summary>The defaults: 16 MiB frames, HWM 10,000 messages, linger 0, ZMTP heartbeat every 5 s with a 15 s timeout.</summary>
    public static TransportOptions Default { get; } = new();

    /// <summary>Which ZeroMQ implementation to use; <see cref="TransportImplementation.Auto"/> prefers native libzmq.</summary>
    public TransportImplementation Implementation { get; init; } = TransportImplementation.Auto;

    /// <summary>Largest single frame accepted from a peer, in bytes (ZMQ_MAXMSGSIZE). A peer that sends more is disconnected.</summary>
    public long MaxFrameSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Frames a message may have. libzmq bounds a frame's size (<see cref="MaxFrameSize"/>), never how many frames a message
    /// has, and holds each frame in a 64-byte slot however small: a message of a million empty frames is 2 MB on the wire
    /// and 64 MB in memory, and more again for every copy Courier would make of it. A longer message is read and dropped
    /// whole (counted in <c>courier.violations</c>, logged at a bounded rate); its sender gets no answer. A request's or
    /// reply's body may have <see cref="ReservedFrames"/> frames fewer, the rest being room for envelopes and protocol
    /// frames: a client refuses a longer body (<see cref="ArgumentException"/>), a server or broker answers one
    /// <c>413</c>, and a handler's longer reply is answered <c>500</c>. Default 1,024; at least 64.
    /// </summary>
    public int MaxFramesPerMessage { get; init; } = 1024;

    /// <summary>Frames of <see cref="MaxFramesPerMessage"/> kept for envelopes (at most 16 frames) and protocol frames: a body may have the rest.</summary>
    public const int ReservedFrames = 32;

    /// <summary>Frames a request's or reply's body may have: <see cref="MaxFramesPerMessage"/> less <see cref="ReservedFrames"/>.</summary>
    internal int MaxBodyFrames => MaxFramesPerMessage - ReservedFrames;

    /// <summary>Outgoing messages queued per peer before sends are refused (ZMQ_SNDHWM).</summary>
    public int SendHighWatermark { get; init; } = 10_000;

    /// <summary>Incoming messages queued per peer before reading from that peer pauses (ZMQ_RCVHWM).</summary>
    public int ReceiveHighWatermark { get; init; } = 10_000;

    /// <summary>
    /// How long unsent messages are kept after a socket closes (ZMQ_LINGER). Zero: closing never blocks. On Courier's own
    /// DEALER (<see cref="CourierZmtpForDealers"/>) a closed connection writes its last bytes on its loop, half-closes and
    /// waits for the peer to close, for this long at most; when the loop itself ends it waits for them (at most this
    /// long), so disposing a client or stopping a worker may then wait that long, and a loop disposed from another thread
    /// is waited for up to 5 s and finishes alone after that.
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// ZMTP PING interval (ZMQ_HEARTBEAT_IVL); keeps connections through a proxy with an idle timeout (nginx's
    /// <c>proxy_timeout</c>) alive and finds dead ones. <see cref="TimeSpan.Zero"/> turns ZMTP heartbeats off, libzmq's own
    /// default: with the native transport that saves ~7 µs of each one-at-a-time round trip through a broker (a timed wait
    /// per sleep of libzmq's I/O thread; docs/performance.md; measured 2026-11-28, when listeners still pinged), and leaves
    /// dead-peer detection to 7/MDP heartbeats (workers) and request timeouts (clients); a worker's default is zero for
    /// that reason (<see cref="Worker.CourierWorkerOptions.Transport"/>). Only connecting sockets (clients, workers) send
    /// PINGs; a listener (server, broker) answers them and finds dead peers by TCP keepalive (idle
    /// <see cref="HeartbeatTimeout"/>, then a probe every interval, 3 probes; the system's count on NetMQ): libzmq 4.3 cancels a
    /// heartbeat timer by walking every timer of its I/O thread, so a listener pinging 8,000 idle connections kept a core
    /// busy (native transport). The cost: a peer whose process is stopped (SIGSTOP) on a live host still answers keepalive
    /// probes, so a listener keeps its connection until the peer resumes or dies; the broker still finds such workers by
    /// 7/MDP heartbeats. Zero also turns the listeners' TCP keepalive off: a server or broker then keeps a dead client's
    /// connection until the OS drops it.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// On a connecting socket, how long without any traffic after a PING before the connection is considered dead and
    /// closed (ZMQ_HEARTBEAT_TIMEOUT). On a listener, the TCP keepalive idle time: a dead peer is found after about this
    /// plus 3 × <see cref="HeartbeatInterval"/> (30 s by default). Unused when heartbeats are off.
    /// </summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Delay before a connecting socket retries a dropped or refused connection (ZMQ_RECONNECT_IVL).</summary>
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound for the exponential reconnect backoff (ZMQ_RECONNECT_IVL_MAX).</summary>
    public TimeSpan ReconnectIntervalMax { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a new connection may take to complete its ZMTP greeting and handshake before it is closed
    /// (ZMQ_HANDSHAKE_IVL): a peer that connects and sends nothing, or half a greeting, holds a file descriptor no longer
    /// than this. Default 10 s. On the managed transport (NetMQ has no such timeout; Linux only) Courier checks each
    /// accepted connection once, at this deadline or up to a quarter of it (at most 1 s) later: one that has delivered
    /// fewer bytes than a ZMTP 3 greeting and the smallest READY (91) is closed. That catches silent and half-greeted
    /// peers, not one that sends 91 bytes and then trickles the rest of a larger handshake (<see cref="MaxConnections"/>
    /// still bounds those), and it closes a ZMTP 1 or 2 peer that has sent fewer than 91 bytes by then (docs/guide.md,
    /// Limits against hostile peers).
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// On the native transport, whether the TCP connections without CURVE that clients and workers make speak ZMTP from
    /// Courier's own code, on their loop thread (true, the default), rather than through libzmq's DEALER and its I/O
    /// thread: a round trip then makes fewer system calls and thread hand-offs (docs/performance.md, "A DEALER of
    /// Courier's own"). Listeners (servers, brokers), CURVE connections, inproc:// and ipc:// always use libzmq, and the
    /// managed transport ignores this. A worker's connection counts every byte it has not written against
    /// <see cref="MaxPendingBytesPerPeer"/>, not only messages of 1 KiB or more. <c>COURIER_OWN_ZMTP</c> in a process's
    /// environment overrides it either way: <c>0</c> off, <c>1</c> on. Where it differs from libzmq's DEALER: a connect
    /// that gets no answer is given up after <see cref="HandshakeTimeout"/> and retried; a ZMTP 2 peer is refused, not
    /// spoken to in its version; <see cref="Linger"/> goes on writing a closed connection's bytes on its loop (and, when
    /// the loop itself ends, before it ends) and waits for the peer to close, but drops the messages that were waiting
    /// for a connection;
    /// <see cref="ReceiveHighWatermark"/> does not apply (the client reads its socket only as fast as it handles what it
    /// read); an IPv6 address connects.
    /// </summary>
    public bool CourierZmtpForDealers { get; init; } = true;

    /// <summary>
    /// Connections a listening socket (server, broker) holds at once. Past the limit a new connection is closed as soon as
    /// it is accepted: the listener keeps serving the ones it has, refuses new ones, takes them again as connections
    /// close, and never runs out of file descriptors. Default 10,000, and never more than three quarters (on the managed
    /// transport, half) of the file descriptors the process has left, when the listener is made, under its limit
    /// (RLIMIT_NOFILE, whose soft limit Courier raises to the hard one at start-up).
    /// Both transports (NetMQ's through its socket monitor, on Linux; there all listeners of a process also share one
    /// budget, half the descriptors it had left when the first was made).
    /// </summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>
    /// Bytes a listening socket (server, broker) holds at most for one peer that does not read what it is sent: replies
    /// handed to ZeroMQ and not yet written to the peer's connection; and a worker for its broker (past it the worker
    /// holds its replies, and connects anew once it holds as many bytes again and more replies than its capacity lets a
    /// broker have requests out). Past it, a reply to that peer is dropped, counted
    /// and logged at a bounded rate (the client's timeout recovers it, if the client is real); a broker sends a worker
    /// over it (or at its high-water mark) nothing new until its next tick, and the refused request goes back to the
    /// queue: a worker sent large requests back to back is slowed, not dropped (one refused for a whole heartbeat
    /// liveness period is). <see cref="SendHighWatermark"/> alone
    /// bounds messages, not bytes: a client that asks for 1 MiB replies and never reads could make a process hold
    /// 10,000 × 1 MiB. Default 32 MiB. A worker's connection on Courier's own DEALER (<see cref="CourierZmtpForDealers"/>)
    /// counts every byte it has not written (and, as elsewhere, refuses no message under 1 KiB for it); elsewhere it is
    /// counted per message of 1 KiB or more, each frame for 64 bytes besides its
    /// own (libzmq's slot for it; smaller ones are bounded by the high-water mark: at most <see cref="SendHighWatermark"/>
    /// × 1 KiB); one message larger than the budget still goes
    /// to a peer with nothing pending. Both transports: on the managed one (NetMQ), Courier learns that a message was
    /// written when NetMQ gives its buffer back to its process-wide pool, which Courier wraps (a pool an application sets
    /// later with <c>BufferPool.SetCustomBufferPool</c> turns the budget off there; docs/guide.md).
    /// </summary>
    public long MaxPendingBytesPerPeer { get; init; } = 32 * 1024 * 1024;

    /// <summary>
    /// Native memory a listening process may hold, beyond 128 KiB a connection (what libzmq's buffers cost one anyway),
    /// before a listener closes the connections holding the largest messages they never finished; counted as the resident
    /// set, or malloc's count (glibc's mallinfo2) where smaller.
    /// libzmq bounds frames (<see cref="MaxFrameSize"/>), never a multipart message, and keeps every frame until the last:
    /// empty frames flagged "more" cost it 32 bytes of memory per byte sent. While the memory held is over half the limit,
    /// a listener looks at its TCP connections once a second; over it, it closes those that have sent the most bytes
    /// without finishing a message (at least 1 KiB) until that covers the excess (docs/guide.md, Limits against hostile
    /// peers). Null, the default: a quarter of the memory the runtime sees as available to the process (a container's
    /// limit, where there is one), between 64 MiB and 1 GiB. Native transport only (on the managed transport, unfinished
    /// messages are not bounded).
    /// </summary>
    public long? NativeHeapBudget { get; init; }

    /// <summary>
    /// Lines of each kind of violation or drop (a malformed message, a refused request, a dropped reply) logged per
    /// <see cref="ViolationLogInterval"/>; past it they are only counted, and one summary line per interval gives the
    /// counts. Default 10.
    /// </summary>
    public int ViolationLogBurst { get; init; } = 10;

    /// <summary>The interval of <see cref="ViolationLogBurst"/>, and how often a summary of what was not logged is written. Default 1 min.</summary>
    public TimeSpan ViolationLogInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// CURVE keys for the socket, set by the owner from its security options (never bound from configuration: internal).
    /// Null: plain ZMTP.
    /// </summary>
    internal CurveSettings? Curve { get; init; }

    /// <summary>Whether ZMTP heartbeats are on (a positive <see cref="HeartbeatInterval"/>).</summary>
    public bool HeartbeatsEnabled => HeartbeatInterval > TimeSpan.Zero;

    /// <summary>
    /// Whether a socket of <paramref name="kind"/> sends ZMTP PINGs: only connecting ones (DEALER) do; a listener (ROUTER)
    /// answers them and, heartbeats on, finds dead peers by TCP keepalive (<see cref="HeartbeatInterval"/> says why).
    /// </summary>
    internal bool Pings(Internal.SocketKind kind) => HeartbeatsEnabled && kind != Internal.SocketKind.Router;

    /// <summary>A listener's TCP keepalive idle time, in whole seconds within what Linux takes (1 to 32,767).</summary>
    internal int KeepaliveIdleSeconds => KeepaliveSeconds(HeartbeatTimeout);

    /// <summary>A listener's TCP keepalive probe interval, in whole seconds within what Linux takes.</summary>
    internal int KeepaliveIntervalSeconds => KeepaliveSeconds(HeartbeatInterval);

    private static int KeepaliveSeconds(TimeSpan time) => (int)Math.Clamp(time.TotalSeconds, 1, 32_767);

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        Check(Enum.IsDefined(Implementation), nameof(Implementation), "is not a known implementation");
        Check(MaxFrameSize > 0, nameof(MaxFrameSize), "must be positive");
        Check(MaxFramesPerMessage >= 64, nameof(MaxFramesPerMessage), "must be at least 64 (32 of them are kept for envelopes and protocol frames)");
        Check(SendHighWatermark > 0, nameof(SendHighWatermark), "must be positive");
        Check(ReceiveHighWatermark > 0, nameof(ReceiveHighWatermark), "must be positive");
        Check(Linger >= TimeSpan.Zero, nameof(Linger), "must not be negative");
        Check(HeartbeatInterval >= TimeSpan.Zero, nameof(HeartbeatInterval), "must not be negative (zero turns ZMTP heartbeats off)");
        Check(HeartbeatTimeout >= HeartbeatInterval, nameof(HeartbeatTimeout), "must be at least HeartbeatInterval");
        Check(ReconnectInterval > TimeSpan.Zero, nameof(ReconnectInterval), "must be positive");
        Check(ReconnectIntervalMax >= ReconnectInterval, nameof(ReconnectIntervalMax), "must be at least ReconnectInterval");
        Check(HandshakeTimeout > TimeSpan.Zero, nameof(HandshakeTimeout), "must be positive");
        Check(MaxConnections > 0, nameof(MaxConnections), "must be positive");
        Check(MaxPendingBytesPerPeer > 0, nameof(MaxPendingBytesPerPeer), "must be positive");
        Check(NativeHeapBudget is null or > 0, nameof(NativeHeapBudget), "must be positive, or null for the default");
        Check(ViolationLogBurst >= 0, nameof(ViolationLogBurst), "must not be negative");
        Check(ViolationLogInterval > TimeSpan.Zero, nameof(ViolationLogInterval), "must be positive");
    }

    private static void Check(bool ok, string setting, string rule) => Courier.Internal.OptionsGuard.Require(ok, nameof(TransportOptions), setting, rule);
}
