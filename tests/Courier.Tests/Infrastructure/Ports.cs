using System.Net;
using System.Net.Sockets;

namespace Courier.Tests.Infrastructure;

public static class Ports
{
    /// <summary>A loopback TCP port that was free a moment ago.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string FreeEndpoint() => $"tcp://127.0.0.1:{Free()}";

    /// <summary>The port of a <c>tcp://host:port</c> endpoint.</summary>
    public static int Of(string endpoint) => int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}
