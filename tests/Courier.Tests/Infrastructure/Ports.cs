namespace Courier.Tests.Infrastructure;

public static class Ports
{
    /// <summary>The port of a <c>tcp://host:port</c> endpoint.</summary>
    public static int Of(string endpoint) => int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}
