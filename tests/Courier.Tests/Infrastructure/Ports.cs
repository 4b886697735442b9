namespace Courier.Tests.Infrastructure;

public static class Ports
{
    /// <summary>The port of a <c>tcp://host:port</c> endpoint.</summary>
    public static int Of(string endpoint) => int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Established TCP connections of this network namespace whose far end is <paramref name="port"/>: the client's side.</summary>
    public static int ConnectionsTo(int port)
    {
        var far = $":{port:X4} ";
        return File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => f.Length > 3 && (f[2] + " ").EndsWith(far, StringComparison.Ordinal) && f[3] == "01");
    }

    /// <summary>
    /// <see cref="ConnectionsTo"/>, but a count above <paramref name="atMost"/> is read again until it falls to it or
    /// <paramref name="within"/> passes: a socket the client has closed stays established here until libzmq's I/O thread
    /// has closed it, which a loaded machine delays. A connection the client holds never falls away, so a real excess
    /// still shows.
    /// </summary>
    public static int SettledConnectionsTo(int port, int atMost, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        var count = ConnectionsTo(port);
        while (count > atMost && DateTime.UtcNow < until)
        {
            Thread.Sleep(20);
            count = ConnectionsTo(port);
        }

        return count;
    }

    /// <summary>
    /// The kernel's queues of the TCP connection between local ports <paramref name="a"/> and <paramref name="b"/>, a
    /// line for each side found: which side holds bytes it has not read, or not yet sent.
    /// </summary>
    public static IReadOnlyList<TcpQueues> QueuesBetween(int a, int b) => Queues(a, b);

    /// <summary><see cref="QueuesBetween"/> for every connection with an end at local port <paramref name="port"/>.</summary>
    public static IReadOnlyList<TcpQueues> QueuesOf(int port) => Queues(port, null);

    private static List<TcpQueues> Queues(int a, int? b)
    {
        static int PortOf(string address) => Convert.ToInt32(address[(address.IndexOf(':') + 1)..], 16);
        // A dual-mode socket's side (a TcpClient made without an address family) is listed with IPv6's.
        return [.. File.ReadLines("/proc/net/tcp").Skip(1).Concat(File.ReadLines("/proc/net/tcp6").Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 4 && PortOf(f[2]) != 0
                && ((PortOf(f[1]) == a && (b is null || PortOf(f[2]) == b)) || (PortOf(f[2]) == a && (b is null || PortOf(f[1]) == b))))
            .Select(f =>
            {
                var queues = f[4].Split(':');
                return new TcpQueues(PortOf(f[1]), PortOf(f[2]), f[3], Convert.ToInt64(queues[0], 16), Convert.ToInt64(queues[1], 16));
            })];
    }
}

/// <summary>One side of a TCP connection as /proc/net/tcp shows it: bytes it has not yet sent, and bytes it has not read.</summary>
public readonly record struct TcpQueues(int Local, int Remote, string State, long Send, long Receive)
{
    public override string ToString() => $"{Local}→{Remote} (state {State}): send queue {Send}, receive queue {Receive}";
}
