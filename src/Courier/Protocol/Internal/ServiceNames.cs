namespace Courier.Protocol.Internal;

/// <summary>The one check of a service name a server or worker is asked to host.</summary>
internal static class ServiceNames
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="service"/> is a name a handler may be mapped to.</summary>
    public static void ThrowIfNotHostable(string service, string paramName)
    {
        ArgumentNullException.ThrowIfNull(service, paramName);
        if (Mdp.DecodeServiceName(System.Text.Encoding.UTF8.GetBytes(service)) is null)
        {
            throw new ArgumentException("A service name is 1-255 bytes of printable UTF-8.", paramName);
        }

        if (service.StartsWith("mmi.", StringComparison.Ordinal))
        {
            throw new ArgumentException("Service names starting with 'mmi.' are reserved for 8/MMI.", paramName);
        }
    }
}
