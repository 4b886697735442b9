using System.Text;
using Courier.Internal;

namespace Courier.Transport.Internal.Native;

internal sealed unsafe class NativeSocket(ZmqSocketHandle socket, ZmqSocketHandle? monitor, ISocketHandler handler, Action<NativeSocket> onDispose, bool reportDisconnects, ConnectionLimit? limit)
    : ITransportSocket, IPumpedSocket
{
    // libzmq emits DISCONNECTED as soon as the connection drops, while what the peer sent just before still waits in the
    // socket's queue. A notice is therefore held until the socket has been drained after it, so a worker's last replies
    // (and its DISCONNECT) are read before the broker hears that it is gone.
    private static readonly long SettleTicks = System.Diagnostics.Stopwatch.Frequency / 1000;
    private readonly Dictionary<int, byte[]> _peerByFd = [];
    private readonly HashSet<byte[]> _mappedPeers = new(ByteArrayComparer.Instance);
    private readonly Queue<(byte[] Peer, long Seen)> _pendingNotices = new();
    private readonly HashSet<byte[]> _closingPeers = new(ByteArrayComparer.Instance);
    private string _endpoint = "";
    private Action? _collectDisconnects;

    // Set once an inproc endpoint is bound or connected: no frame is then lent to libzmq or kept as it came (see
    // StopCountingForInproc), since the other end is a socket of this process.
    private bool _inproc;

    /// <summary>The bound on this listener's connections, or null (a connecting socket).</summary>
    internal ConnectionLimit? Limit { get; } = limit;
    private readonly Dictionary<byte[], string> _userIds = new(ByteArrayComparer.Instance);

    internal ZmqSocketHandle Handle { get; } = socket;

    /// <summary>
    /// The count of each peer's unwritten bytes: a listener's bounded by <see cref="TransportOptions.MaxPendingBytesPerPeer"/>,
    /// a connecting socket's only watched (a graceful stop waits for it); null where not counted.
    /// </summary>
    internal PeerBacklog? Backlog { get; private set; }

    /// <summary>Counts large messages per peer against <paramref name="budget"/> bytes (before it binds or connects).</summary>
    internal NativeSocket WithBacklog(long budget, bool onePeer = false)
    {
        Backlog = new PeerBacklog(budget, onePeer);
        return this;
    }

    public SendRefusal LastRefusal { get; private set; }

    public long LargestPendingBytes => Backlog?.LargestPending() ?? 0;

    internal ISocketHandler Handler { get; } = handler;

    /// <summary>A listener's watch over the messages its peers leave unfinished (null: a connecting socket).</summary>
    internal UnfinishedMessages? Unfinished { get; init; }

    /// <summary>The bound on a received message's frames (<see cref="TransportOptions.MaxFramesPerMessage"/>).</summary>
    internal required FrameLimit Frames { get; init; }

    /// <summary>A CURVE listener's: each message's <c>User-Id</c> (set by the ZAP handler) goes to <see cref="MessageFrames.UserId"/>.</summary>
    internal bool ReadsUserId { get; init; }

    public bool IsClosed => Handle.IsClosed;

    /// <summary>The PAIR socket receiving this socket's monitor events, when disconnect notices were asked for.</summary>
    internal ZmqSocketHandle? Monitor { get; } = monitor;

    /// <summary>Set by the loop when the monitor has events: reading it costs a system call, so it is read only then.</summary>
    internal bool MonitorSignalled { get; set; }

    /// <summary>
    /// Whether the socket's ZMQ_FD will signal the next input. It signals only libzmq's internal commands, which any call
    /// on the socket may consume: it is trustworthy after a receive found nothing (or an events query), not after a send
    /// or a receive that returned a message. The loop asks libzmq before blocking on a socket that is not settled.
    /// </summary>
    internal bool Settled { get; set; }

    /// <summary>The same for the monitor socket, which only the loop's drain of it reads.</summary>
    internal bool MonitorSettled { get; set; }

    /// <summary>Disconnect notices wait to be delivered: the loop must call this socket's handler again even if idle.</summary>
    internal bool HasPendingNotices => _pendingNotices.Count > 0;

    public string Bind(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        StopCountingForInproc(endpoint);
        var target = endpoint.EndsWith(":0", StringComparison.Ordinal) ? endpoint[..^1] + "*" : endpoint;
        NativeTransport.Check(LibZmq.zmq_bind(Handle.DangerousGetHandle(), target), $"bind {endpoint}");
        if (!target.EndsWith(":*", StringComparison.Ordinal))
        {
            return _endpoint = endpoint;
        }

        var bound = LastEndpoint(Handle);
        // Keep the host as the caller wrote it (libzmq reports 0.0.0.0 as such anyway); take only the port.
        return _endpoint = $"{target[..^2]}:{bound[(bound.LastIndexOf(':') + 1)..]}";
    }

    /// <summary>The endpoint libzmq last bound <paramref name="socket"/> to (ZMQ_LAST_ENDPOINT), with the port it chose for <c>*</c>.</summary>
    internal static string LastEndpoint(ZmqSocketHandle socket)
    {
        var buffer = stackalloc byte[256];
        nuint length = 256;
        NativeTransport.Check(LibZmq.zmq_getsockopt(socket.DangerousGetHandle(), LibZmq.OptLastEndpoint, buffer, &length), "ZMQ_LAST_ENDPOINT");
        return Encoding.UTF8.GetString(buffer, (int)length - 1);
    }

    public void Connect(string endpoint)
    {
        StopCountingForInproc(endpoint);
        NativeTransport.Check(LibZmq.zmq_connect(Handle.DangerousGetHandle(), endpoint), $"connect {endpoint}");
    }

    /// <summary>
    /// An inproc peer is a socket of this process, which would run the free callback of a counted or lent frame inside a
    /// call made without the GC transition: such a socket is not counted (its inproc peers are this process's own
    /// anyway), and copies every frame both ways.
    /// </summary>
    private void StopCountingForInproc(string endpoint)
    {
        if (endpoint.StartsWith("inproc://", StringComparison.Ordinal))
        {
            _inproc = true;
            Backlog?.Dispose();
            Backlog = null;
        }
    }

    /// <summary>Whose socket it is (<c>courier.role</c>), for the byte counters.</summary>
    public string Role { get; set; } = Diagnostics.Internal.TelemetryRole.Client;

    public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        var raw = Handle.DangerousGetHandle();
        Settled = false;
        NativeFrame.ThrowIfAnyDisposed(frames);
        if (Backlog is { } backlog && frames.Length > 0 && PendingBytes.Counts(frames, out var total))
        {
            if (!backlog.TrySend(raw, frames, total))
            {
                LastRefusal = backlog.LastRefusal;
                return false;
            }

            TransportTelemetry.Sent(frames, Role);
            return true;
        }

        for (var i = 0; i < frames.Length; i++)
        {
            var flags = LibZmq.DontWait | (i < frames.Length - 1 ? LibZmq.SendMore : 0);
            // A multipart message is queued atomically: only its first frame can be refused.
            if (!SendFrame(raw, frames[i], flags, last: i == frames.Length - 1))
            {
                return false; // LastRefusal set by SendFrame
            }
        }

        TransportTelemetry.Sent(frames, Role);
        return true;
    }

    /// <summary>
    /// One frame: the last frame of a message, when it is a slice of a <see cref="NativeFrame"/> (a large frame received
    /// and sent on), is lent to libzmq, not copied; anything else libzmq copies. Only the last: a lent frame still
    /// unflushed when a later frame's zmq_send (made without the GC transition) rolls the message back would run its
    /// free callback, managed code, inside that call.
    /// </summary>
    private bool SendFrame(nint raw, ReadOnlyMemory<byte> frame, int flags, bool last)
    {
        if (last && !_inproc && NativeFrame.TryGet(frame, out var native, out var start, out var length))
        {
            ZmqMsg msg;
            if (native.TryLend(&msg, start, length))
            {
                if (LibZmq.zmq_msg_send(&msg, raw, flags) >= 0)
                {
                    return true;
                }

                LastRefusal = LibZmq.Refusal(); // before the close, which may set errno
                // Still ours: closing it gives the reference back.
                _ = LibZmq.zmq_msg_close_tracked(&msg);
                return false;
            }
        }

        fixed (byte* data = frame.Span)
        {
            if (LibZmq.zmq_send(raw, data, (nuint)frame.Length, flags) >= 0)
            {
                return true;
            }
        }

        LastRefusal = LibZmq.Refusal();
        return false;
    }

    public Received TryReceive(MessageFrames message)
    {
        message.Clear();
        if (Monitor is null)
        {
            return TryReceiveMessage(message);
        }

        if (MonitorSignalled)
        {
            MonitorSignalled = false;
            CollectDisconnects();
        }

        if (TryReceiveMessage(message) is var received and not Received.Nothing)
        {
            return received;
        }

        if (!reportDisconnects || !_pendingNotices.TryPeek(out var oldest))
        {
            return Received.Nothing;
        }

        // libzmq flushes a dropped connection's last messages a moment after it reports the drop: give it that moment once.
        var settle = SettleTicks - (System.Diagnostics.Stopwatch.GetTimestamp() - oldest.Seen);
        if (settle > 0)
        {
            Thread.Sleep(TimeSpan.FromTicks(settle * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency));
            if (TryReceiveMessage(message) is var late and not Received.Nothing)
            {
                return late;
            }
        }

        var (peer, _) = _pendingNotices.Dequeue();
        _closingPeers.Remove(peer);
        message.Append(peer);
        return Received.PeerGone;
    }

    private Received TryReceiveMessage(MessageFrames message)
    {
        var raw = Handle.DangerousGetHandle();
        ZmqMsg msg;
        _ = LibZmq.zmq_msg_init(&msg);
        try
        {
            var size = LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait);
            Settled = size < 0;
            if (size < 0)
            {
                return Received.Nothing;
            }

            string? userId;
            int sourceFd;
            try
            {
                // The rest of a multipart message arrives with its first frame.
                while (LibZmq.zmq_msg_more(&msg) != 0)
                {
                    if (Frames.Exceeded(message.Count + 1))
                    {
                        Drop(message, &msg, raw, size);
                        return Received.Dropped;
                    }

                    Append(message, &msg, size);
                    size = LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait);
                }

                // Read off the last frame before it is appended, which may move its content away: libzmq attaches the
                // connection's metadata to each frame that came off the wire.
                userId = ReadsUserId ? UserIdOf(&msg) : null;
                sourceFd = reportDisconnects || Unfinished is not null ? LibZmq.zmq_msg_get(&msg, LibZmq.MsgSourceFd) : -1;
                Append(message, &msg, size);
                Unfinished?.Finished(sourceFd, UnfinishedMessages.WireBytes(message, curve: ReadsUserId));
            }
            catch
            {
                // Whatever failed (no memory for a huge message, say), the rest of this message is read and dropped here:
                // read later, its next frame would pass for a routing id the sender chose.
                while (LibZmq.zmq_msg_more(&msg) != 0 && LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait) >= 0)
                {
                }

                message.Clear();
                throw;
            }

            message.UserId = userId;
            if (reportDisconnects && !_mappedPeers.GetAlternateLookup<ReadOnlySpan<byte>>().Contains(message[0]))
            {
                MapNewPeer(message.ToArray(0), sourceFd);
            }

            return Received.Message;
        }
        finally
        {
            _ = LibZmq.zmq_msg_close(&msg);
        }
    }

    /// <summary>
    /// A message past <see cref="Frames"/>' limit, its frames so far in <paramref name="message"/> and the next in
    /// <paramref name="msg"/>: the rest is read and let go frame by frame, nothing kept, and the drop counted. Its bytes
    /// still count as a whole message's for the watch over unfinished ones: the connection finished it.
    /// </summary>
    private void Drop(MessageFrames message, ZmqMsg* msg, nint raw, int size)
    {
        var frames = message.Count + 1;
        var wire = UnfinishedMessages.WireBytes(message, ReadsUserId) + UnfinishedMessages.WireBytes(size, ReadsUserId);
        message.Clear();
        while (LibZmq.zmq_msg_more(msg) != 0 && (size = LibZmq.zmq_msg_recv(msg, raw, LibZmq.DontWait)) >= 0)
        {
            frames++;
            wire += UnfinishedMessages.WireBytes(size, ReadsUserId);
        }

        if (Unfinished is { } unfinished)
        {
            unfinished.Finished(LibZmq.zmq_msg_get(msg, LibZmq.MsgSourceFd), wire);
        }

        Frames.Dropped(frames, Role);
    }

    /// <summary>
    /// The User-Id of the connection a frame came from (read from a frame off the wire: libzmq attaches the connection's
    /// metadata to each), as one string per distinct id, so a steady stream of messages allocates nothing.
    /// </summary>
    private string? UserIdOf(ZmqMsg* frame)
    {
        byte* value;
        fixed (byte* name = "User-Id\0"u8)
        {
            value = LibZmq.zmq_msg_gets(frame, name);
        }

        var bytes = value is null ? default : System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated(value);
        if (bytes.IsEmpty)
        {
            return null;
        }

        if (_userIds.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(bytes, out var known))
        {
            return known;
        }

        if (_userIds.Count >= 4096)
        {
            _userIds.Clear(); // bounded, whatever the number of keys admitted over time
        }

        var id = Encoding.UTF8.GetString(bytes);
        _userIds[bytes.ToArray()] = id;
        return id;
    }

    /// <param name="peer">The routing id.</param>
    /// <param name="sourceFd">
    /// The connection's fd, read from the message's last frame: a ROUTER's routing-id frame carries none when an events
    /// query prefetched the message, which is most of the time.
    /// </param>
    private void MapNewPeer(byte[] peer, int sourceFd)
    {
        if (sourceFd < 0 || _closingPeers.Contains(peer))
        {
            // No fd, or a message still queued from a dropped connection: it must not claim an fd a new one may hold.
            return;
        }

        // The drop of the connection that held this fd before was reported before the fd could be reused: read that
        // report first, so it is not taken for this peer's.
        CollectDisconnects();
        if (_peerByFd.Remove(sourceFd, out var previous))
        {
            _mappedPeers.Remove(previous);
        }

        _peerByFd[sourceFd] = peer;
        _mappedPeers.Add(peer);
    }

    private void CollectDisconnects()
    {
        var raw = Monitor!.DangerousGetHandle();
        ZmqMsg msg;
        _ = LibZmq.zmq_msg_init(&msg);
        try
        {
            while (LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait) >= 0)
            {
                // Event frame: uint16 event, uint32 value (the connection's fd); then a frame with the endpoint.
                var data = (byte*)LibZmq.zmq_msg_data(&msg);
                var isEvent = LibZmq.zmq_msg_size(&msg) == 6;
                var eventId = isEvent ? *(ushort*)data : 0;
                var fd = isEvent ? *(int*)(data + 2) : -1;
                while (LibZmq.zmq_msg_more(&msg) != 0)
                {
                    _ = LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait);
                }

                if (Limit is not null && (eventId == LibZmq.EventAccepted || eventId == LibZmq.EventDisconnected))
                {
                    Limit.Add(eventId, fd);
                }

                if (eventId == LibZmq.EventAccepted)
                {
                    Unfinished?.Accepted(fd);
                }
                else if (eventId == LibZmq.EventDisconnected)
                {
                    Unfinished?.Gone(fd);
                }

                if (eventId == LibZmq.EventDisconnected && _peerByFd.Remove(fd, out var peer) && _closingPeers.Add(peer))
                {
                    _mappedPeers.Remove(peer);
                    _pendingNotices.Enqueue((peer, System.Diagnostics.Stopwatch.GetTimestamp()));
                }
            }

            MonitorSettled = true;
            Limit?.Apply(_endpoint);
        }
        finally
        {
            _ = LibZmq.zmq_msg_close(&msg);
        }
    }

    /// <summary>The loop's tick: the watch over unfinished messages looks at the connections when it is due.</summary>
    internal void OnTick()
    {
        if (Unfinished is { } unfinished && !Handle.IsClosed && unfinished.IsDue())
        {
            // Connections accepted or gone first: a descriptor must not be looked at for a connection it no longer is.
            MonitorSignalled = false;
            CollectDisconnects();
            unfinished.Look(_endpoint, _collectDisconnects ??= CollectDisconnects);
        }
    }

    /// <summary>The socket's ZMQ_FD, for poll(2).</summary>
    internal static int FileDescriptor(ZmqSocketHandle socket)
    {
        int fd;
        nuint length = sizeof(int);
        NativeTransport.Check(LibZmq.zmq_getsockopt(socket.DangerousGetHandle(), LibZmq.OptFd, &fd, &length), "ZMQ_FD");
        return fd;
    }

    /// <summary>Whether a message waits (ZMQ_EVENTS); the query processes libzmq's pending commands, settling the socket.</summary>
    internal static bool HasInput(ZmqSocketHandle socket)
    {
        int events;
        nuint length = sizeof(int);
        return LibZmq.zmq_getsockopt(socket.DangerousGetHandle(), LibZmq.OptEvents, &events, &length) == 0 && (events & LibZmq.PollIn) != 0;
    }

    private void Append(MessageFrames message, ZmqMsg* msg, int size)
    {
        if (size >= NativeFrame.Minimum && !_inproc)
        {
            message.AppendOwned(NativeFrame.Take(msg, size));
            return;
        }

        var frame = message.Append(Math.Max(0, size));
        if (size > 0)
        {
            new ReadOnlySpan<byte>(LibZmq.zmq_msg_data(msg), size).CopyTo(frame);
        }
    }

    public void Dispose()
    {
        if (!Handle.IsClosed)
        {
            onDispose(this);
        }

        if (Monitor is not null && !Handle.IsClosed)
        {
            // Stop the monitor before anything closes: libzmq's I/O thread sends monitor events with a blocking
            // send, and a monitor PAIR without its reader would wedge that thread, and every socket it serves.
            _ = LibZmq.zmq_socket_monitor(Handle.DangerousGetHandle(), null, 0);
        }

        Handle.Dispose();
        Monitor?.Dispose();
        // After the close: what libzmq still holds keeps its peer's count alive until it is dropped.
        Backlog?.Dispose();
        Backlog = null;
    }
}
