using System.Globalization;

namespace Courier.Cli;

/// <summary>
/// Checks an endpoint flag before anything is bound or connected. A malformed endpoint would otherwise fail inside
/// the transport, on its own thread for a connect (a stack trace and exit 134), or name a library setting.
/// </summary>
internal static class EndpointSyntax
{
    private static readonly string[] Schemes = ["tcp", "ipc", "inproc"];

    /// <summary>What is wrong with <paramref name="endpoint"/>, or null when it is well formed.</summary>
    /// <param name="bind">True for an endpoint to bind, where the host and the port may be <c>*</c>.</param>
    public static string? Check(string endpoint, bool bind)
    {
        var separator = endpoint.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0)
        {
            return $"'{endpoint}' has no scheme; write tcp://{endpoint}";
        }

        var scheme = endpoint[..separator];
        var address = endpoint[(separator + 3)..];
        if (!Schemes.Contains(scheme, StringComparer.Ordinal))
        {
            return $"'{endpoint}' has the scheme '{scheme}://'; use tcp://, ipc:// or inproc://";
        }

        if (address.Length == 0 || address.Any(char.IsWhiteSpace))
        {
            return $"'{endpoint}' has no {(scheme == "tcp" ? "host" : "path")} after {scheme}://, or contains a space";
        }

        return scheme == "tcp" ? CheckTcp(endpoint, address, bind) : null;
    }

    private static string? CheckTcp(string endpoint, string address, bool bind)
    {
        var colon = address.LastIndexOf(':');
        if (colon < 0 || address.EndsWith(']'))
        {
            return $"'{endpoint}' has no port; write tcp://{address}:{(bind ? "PORT (or * for any free port)" : "PORT")}";
        }

        var host = address[..colon];
        var port = address[(colon + 1)..];
        if (!ValidHost(host, bind))
        {
            return host.Length == 0
                ? $"'{endpoint}' has no host; write tcp://{(bind ? "0.0.0.0" : "127.0.0.1")}:{port}"
                : $"'{endpoint}' has no valid host: '{host}' is {(host == "*" ? "only for --bind" : "not a host name or address")}";
        }

        if (port == "*")
        {
            return bind ? null : $"'{endpoint}': port * only suits a bind; a connect needs the port number";
        }

        return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 and <= 65535
            ? null
            : $"'{endpoint}' has the port '{port}'; a port is 1-65535{(bind ? ", or * for any free one" : "")}";
    }

    /// <summary>A name (letters, digits, '-', '.', '_'), an IPv4 address, a bracketed IPv6 address, or <c>*</c> for a bind.</summary>
    private static bool ValidHost(string host, bool bind)
    {
        if (host == "*")
        {
            return bind;
        }

        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            return System.Net.IPAddress.TryParse(host[1..^1], out var address)
                && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        return host.Length is > 0 and <= 253 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');
    }
}
