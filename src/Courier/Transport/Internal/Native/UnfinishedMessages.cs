using System.Diagnostics;
using Courier.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// Bounds the memory a listener's peers can make libzmq hold with messages they never finish. libzmq keeps every frame of
/// a multipart message until its last one arrives and bounds single frames (ZMQ_MAXMSGSIZE), never a message: a peer
/// that sends frames flagged "more" and never a last one makes the process hold a 64-byte slot per frame (32 bytes of
/// memory for each byte sent, in empty frames) for as long as its connection lasts. Nothing of an unfinished message
/// reaches the application, which can neither see nor refuse it; so this watches from outside.
/// <para>
/// Each whole message the loop reads is counted, in the bytes its frames took on the wire (<see cref="WireBytes(int, bool)"/>),
/// against the connection it came from (its last frame's ZMQ_SRCFD). What libzmq has read from a connection's socket
/// beyond that (the kernel's TCP_INFO, less what still waits unread) is its greeting and handshake, its pings, and
/// whatever it has sent of a message not finished. Once a second, while the native memory held (<see
/// cref="NativeHeap.Held"/>) is over half the limit (the budget, plus what each connection costs anyway), the loop looks
/// at every connection; over the limit, it closes connections (shutdown(2), as <see cref="ConnectionLimit"/> does), those
/// holding the most first, until 32× what they hold covers the excess. Loop thread only.
/// </para>
/// </summary>
internal sealed partial class UnfinishedMessages(long budget, ILogger logger, ViolationLog violations)
{
    /// <summary>Memory a byte of an unfinished message may cost at most: a 64-byte slot for an empty frame of 2 bytes.</summary>
    internal const int Amplification = 32;

    /// <summary>
    /// Fewer bytes since the connection's last message are not worth closing it for: its pings, say. Connections that
    /// each stay under it hold at most 32 KiB apiece, less than libzmq's own buffers for a connection.
    /// </summary>
    internal const long Floor = 1024;

    /// <summary>What a connection costs libzmq without any message (its decoder's, encoder's and pipes' buffers, ~65 KiB), and more.</summary>
    internal const long PerConnection = 128 * 1024;

    private const int SolSocket = 1;
    private const int SoCookie = 57;
    private const int SolTcp = 6;
    private const int TcpInfo = 11;
    private const int TcpInfoBytesReceived = 128; // tcpi_bytes_received (Linux 4.1 and later)
    private const nuint Fionread = 0x541B;
    private static readonly long Interval = Stopwatch.Frequency;

    private readonly Dictionary<int, Connection> _connections = [];
    private readonly List<Connection> _candidates = [];
    private long _nextLook = Stopwatch.GetTimestamp() + Interval;
    private int _lastFd = -1;
    private Connection? _last;
    private bool _trimDue;

    /// <summary>The budget in force, in bytes held beyond what the connections cost anyway.</summary>
    public long Budget { get; } = budget;

    /// <summary>
    /// The budget <paramref name="configured"/>, or, when null, a quarter of the memory the runtime sees as available to
    /// the process (a container's limit, where there is one), between 64 MiB and 1 GiB.
    /// </summary>
    public static long Effective(long? configured) =>
        configured ?? Math.Clamp(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4, 64L << 20, 1L << 30);

    /// <summary>A connection accepted on <paramref name="fd"/>.</summary>
    public void Accepted(int fd)
    {
        _connections[fd] = new Connection(fd);
        Forget(fd);
    }

    /// <summary>The connection on <paramref name="fd"/> is gone.</summary>
    public void Gone(int fd)
    {
        _connections.Remove(fd);
        Forget(fd);
    }

    /// <summary>
    /// A whole message of <paramref name="wireBytes"/> (<see cref="WireBytes(MessageFrames, bool)"/>) came from the
    /// connection on <paramref name="fd"/>: they count for that connection.
    /// </summary>
    public void Finished(int fd, long wireBytes)
    {
        if (fd != _lastFd || _last is null)
        {
            // An inproc peer's messages carry no descriptor (-1), and one gone may still have messages queued.
            if (fd < 0 || !_connections.TryGetValue(fd, out var connection))
            {
                return;
            }

            _lastFd = fd;
            _last = connection;
        }

        _last.Accounted += wireBytes;
    }

    /// <summary>
    /// The bytes <paramref name="message"/>'s frames took on the wire, but for its first: the routing id a ROUTER, every
    /// watched socket, puts there.
    /// </summary>
    public static long WireBytes(MessageFrames message, bool curve)
    {
        long total = 0;
        for (var i = 1; i < message.Count; i++)
        {
            total += WireBytes(message.Length(i), curve);
        }

        return total;
    }

    /// <summary>
    /// The bytes a frame of <paramref name="size"/> takes on the wire: a ZMTP 3 header of 2 bytes (9 past 255), and under
    /// CURVE (<paramref name="curve"/>) the MESSAGE command that boxes it, 33 bytes more (its name, nonce, flags and MAC).
    /// Exact for what libzmq sends; a peer that writes a long header for a short frame is counted for more than it holds.
    /// </summary>
    public static long WireBytes(int size, bool curve)
    {
        long body = curve ? size + 33L : size;
        return body + (body > 255 ? 9 : 2);
    }

    /// <summary>Whether a second has passed since the last look (then the next is due a second later).</summary>
    public bool IsDue()
    {
        var now = Stopwatch.GetTimestamp();
        if (now < _nextLook)
        {
            return false;
        }

        _nextLook = now + Interval;
        return true;
    }

    /// <summary>
    /// Looks at the connections when the memory held calls for it, and closes what the limit cannot hold;
    /// <paramref name="collectGone"/> first reads the connections gone since, so that no descriptor is closed for a
    /// connection it no longer is.
    /// </summary>
    public void Look(string endpoint, Action collectGone)
    {
        if (_trimDue)
        {
            // libzmq has freed what the connections closed at the last look held (its I/O thread ends them within
            // milliseconds): hand it back to the kernel, or it stays resident.
            _trimDue = false;
            NativeHeap.Trim();
        }

        var limit = Budget + (_connections.Count * PerConnection);
        var held = NativeHeap.Held(limit / 2);
        if (held < limit / 2)
        {
            return;
        }

        foreach (var connection in _connections.Values)
        {
            Measure(connection);
        }

        if (held > limit)
        {
            collectGone();
            Shed(endpoint, held, limit);
        }
    }

    private static void Measure(Connection connection)
    {
        var taken = BytesTaken(connection.Fd);
        if (taken < 0)
        {
            connection.Unfinished = 0;
            return;
        }

        if (connection.Cookie == 0)
        {
            connection.Cookie = Cookie(connection.Fd);
        }

        connection.Unfinished = taken - connection.Accounted;
    }

    /// <summary>Bytes libzmq has read from the TCP connection on <paramref name="fd"/>, or -1 (not TCP, or gone).</summary>
    private static unsafe long BytesTaken(int fd)
    {
        var info = stackalloc byte[TcpInfoBytesReceived + sizeof(ulong)];
        var length = (uint)(TcpInfoBytesReceived + sizeof(ulong));
        int unread;
        if (LibC.getsockopt(fd, SolTcp, TcpInfo, info, &length) != 0 || length < TcpInfoBytesReceived + sizeof(ulong)
            || LibC.ioctl(fd, Fionread, &unread) != 0)
        {
            return -1;
        }

        return (long)*(ulong*)(info + TcpInfoBytesReceived) - unread;
    }

    /// <summary>The kernel's unique id of the socket on <paramref name="fd"/> (SO_COOKIE, Linux 4.13 and later), or 0.</summary>
    private static unsafe ulong Cookie(int fd)
    {
        ulong cookie;
        var length = (uint)sizeof(ulong);
        return LibC.getsockopt(fd, SolSocket, SoCookie, &cookie, &length) == 0 ? cookie : 0;
    }

    private void Shed(string endpoint, long held, long limit)
    {
        _candidates.Clear();
        foreach (var connection in _connections.Values)
        {
            if (connection.Unfinished >= Floor)
            {
                _candidates.Add(connection);
            }
        }

        _candidates.Sort(static (a, b) => b.Unfinished.CompareTo(a.Unfinished));
        var excess = held - limit;
        for (var i = 0; i < _candidates.Count && excess > 0; i++)
        {
            var connection = _candidates[i];
            _connections.Remove(connection.Fd);
            Forget(connection.Fd);
            // Gone events were read just before; the cookie (where the kernel has one) catches a descriptor closed and
            // reused since.
            if (connection.Cookie != 0 && Cookie(connection.Fd) != connection.Cookie)
            {
                continue;
            }

            _ = LibC.shutdown(connection.Fd, LibC.ShutReadWrite);
            _trimDue = true;
            excess -= connection.Unfinished * Amplification;
            if (violations.Admit(ViolationKind.UnfinishedMessage))
            {
                ClosedOne(logger, endpoint, connection.Unfinished, held, limit);
            }
        }

        _candidates.Clear();
    }

    private void Forget(int fd)
    {
        if (fd == _lastFd)
        {
            _lastFd = -1;
            _last = null;
        }
    }

    [LoggerMessage(211, LogLevel.Warning, "Listener {Endpoint} closed a connection that sent {Bytes} bytes without finishing a message, while the process held {Held} bytes of native memory, over its limit of {Limit} (TransportOptions.NativeHeapBudget, and 128 KiB a connection)")]
    private static partial void ClosedOne(ILogger logger, string endpoint, long bytes, long held, long limit);

    private sealed class Connection(int fd)
    {
        public int Fd { get; } = fd;

        /// <summary>The socket's SO_COOKIE, read at its first look: 0 until then (or where the kernel has none).</summary>
        public ulong Cookie { get; set; }

        /// <summary>The wire bytes of the whole messages read from the connection.</summary>
        public long Accounted { get; set; }

        /// <summary>Bytes taken beyond <see cref="Accounted"/>, at the last look: the most an unfinished message can hold.</summary>
        public long Unfinished { get; set; }
    }
}
