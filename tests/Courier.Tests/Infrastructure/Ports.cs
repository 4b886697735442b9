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
}
