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
}
