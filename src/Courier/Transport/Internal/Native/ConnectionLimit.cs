using Courier.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// Bounds the connections a listening socket holds, from its monitor's ACCEPTED and DISCONNECTED events. Past the limit a
/// new connection is ended at once with shutdown(2) on its descriptor, which libzmq owns and closes itself when it sees the
/// end; the connections the socket has are served on. Not zmq_unbind: in libzmq 4.3 the listener owns the sessions it
/// accepted, and unbinding it ends them all. So the process never reaches its descriptor limit, where libzmq's I/O
/// thread spins on accept(2) failing with EMFILE and the runtime, unable to open a file, aborts. Loop thread only.
/// </summary>
internal sealed partial class ConnectionLimit(int max, ILogger logger, ViolationLog violations)
{
    private readonly List<(int Event, int Fd)> _events = [];

    /// <summary>The limit in force.</summary>
    public int Max { get; } = max;

    /// <summary>Connections held now.</summary>
    public int Connections { get; private set; }

    /// <summary>
    /// <paramref name="configured"/>, but never more than (<paramref name="share"/> − 1) / <paramref name="share"/> of the
    /// descriptors the process has left under its limit when the listener is made. Those already open are the runtime's,
    /// the transport's (a managed server starts with ~140) and the application's; the rest of what is left is for what
    /// they open later, and for connections accepted past the limit and not yet closed. The managed transport takes half
    /// (<paramref name="share"/> 2): NetMQ's I/O thread dies of an accept(2) that fails with EMFILE, and a burst of
    /// connections ran ~50–100 descriptors past its limit before they were closed (a 700-connection burst under 512).
    /// </summary>
    public static unsafe int Effective(int configured, int share = 4)
    {
        RLimit limit;
        if (LibC.getrlimit(7 /* RLIMIT_NOFILE */, &limit) != 0 || limit.Current >= int.MaxValue)
        {
            return configured;
        }

        var left = limit.Current - Math.Min(limit.Current, (ulong)OpenDescriptors());
        return (int)Math.Max(1, Math.Min((ulong)configured, left * (ulong)(share - 1) / (ulong)share));
    }

    private static int OpenDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>One monitor event (before <see cref="Apply"/>, which sees the whole drain at once).</summary>
    public void Add(int eventId, int fd) => _events.Add((eventId, fd));

    /// <summary>Counts what was added; ends each connection accepted past the limit, unless it is already gone.</summary>
    public void Apply(string endpoint)
    {
        for (var i = 0; i < _events.Count; i++)
        {
            var (eventId, fd) = _events[i];
            if (eventId == LibZmq.EventDisconnected)
            {
                Connections = Math.Max(0, Connections - 1);
                continue;
            }

            Connections++;
            if (Connections <= Max || GoneLater(i, fd))
            {
                continue;
            }

            // The descriptor is still this connection's: libzmq closes it only after the DISCONNECTED not yet seen.
            _ = LibC.shutdown(fd, LibC.ShutReadWrite);
            if (violations.Admit(ViolationKind.ConnectionLimit))
            {
                Refused(logger, endpoint, Max);
            }
        }

        _events.Clear();
    }

    private bool GoneLater(int index, int fd)
    {
        for (var j = index + 1; j < _events.Count; j++)
        {
            if (_events[j] == (LibZmq.EventDisconnected, fd))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(210, LogLevel.Warning, "Listener {Endpoint} holds its limit of {Max} connections (TransportOptions.MaxConnections); closed a new one")]
    internal static partial void Refused(ILogger logger, string endpoint, int max);
}
