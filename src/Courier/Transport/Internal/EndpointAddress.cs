using System.Text;

namespace Courier.Transport.Internal;

/// <summary>Whether a socket binds the endpoint or connects to it: a bind may leave the host or the port to the system.</summary>
internal enum EndpointUse
{
    Connect,
    Bind,
}

/// <summary>
/// The one check of a ZeroMQ endpoint string, run by every options record's <c>Validate()</c>. libzmq and NetMQ find a
/// bad endpoint only when a socket binds or connects, which for a client or a worker happens on its loop thread (an
/// exception there ends the process), or never (a port of 99999 is a connection that never comes): so an endpoint is
/// checked when the options are, and only endpoints both transports take the same way pass.
/// </summary>
internal static class EndpointAddress
{
    /// <summary>The tcp:// port a message suggests when the endpoint has none.</summary>
    private const int ExamplePort = 5555;

    // The longest ipc path libzmq can bind or connect on Linux: sockaddr_un.sun_path holds 108 bytes with the NUL.
    private const int MaxIpcPathBytes = 107;

    private static readonly string[] Schemes = ["tcp", "ipc", "inproc"];

    /// <summary>What is wrong with <paramref name="endpoint"/> for <paramref name="use"/>, as the rest of a sentence; null when nothing is.</summary>
    public static string? Problem(string? endpoint, EndpointUse use)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return use == EndpointUse.Bind
                ? "no endpoint given; write one such as tcp://127.0.0.1:5555, or tcp://*:5555 for every interface"
                : "no endpoint given; write one such as tcp://127.0.0.1:5555";
        }

        if (endpoint.Any(char.IsWhiteSpace))
        {
            var trimmed = endpoint.Trim();
            return trimmed.Any(char.IsWhiteSpace) ? $"'{endpoint}' contains white space" : $"'{endpoint}' has white space around it; write {trimmed}";
        }

        var separator = endpoint.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0)
        {
            return NoScheme(endpoint);
        }

        var scheme = endpoint[..separator];
        var address = endpoint[(separator + 3)..];
        if (!Schemes.Contains(scheme, StringComparer.Ordinal))
        {
            return Schemes.Contains(scheme, StringComparer.OrdinalIgnoreCase)
                ? $"'{endpoint}' has scheme '{scheme}'; schemes are lower case: write {scheme.ToLowerInvariant()}://{address}"
                : $"'{endpoint}' has scheme '{scheme}', which Courier does not use; write tcp://, ipc:// or inproc://";
        }

        return scheme switch
        {
            "tcp" => TcpProblem(endpoint, address, use),
            "ipc" when address.Length == 0 => $"'{endpoint}' has no path; write one such as ipc:///tmp/courier.sock",
            "ipc" when Encoding.UTF8.GetByteCount(address) > MaxIpcPathBytes =>
                $"'{endpoint}' has a path of {Encoding.UTF8.GetByteCount(address)} bytes; an ipc path has at most {MaxIpcPathBytes}",
            "inproc" when address.Length == 0 => $"'{endpoint}' has no name; write one such as inproc://courier",
            _ => null,
        };
    }

    /// <summary>No "://": a scheme missing altogether ("localhost:5700"), or one missing its slashes ("tcp:127.0.0.1:5555").</summary>
    private static string NoScheme(string endpoint)
    {
        var colon = endpoint.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && Schemes.Contains(endpoint[..colon], StringComparer.OrdinalIgnoreCase))
        {
            var scheme = endpoint[..colon].ToLowerInvariant();
            return $"'{endpoint}' lacks the '//' after '{endpoint[..colon]}:'; write {scheme}://{endpoint[(colon + 1)..].TrimStart('/')}";
        }

        return $"'{endpoint}' has no scheme; write tcp://{endpoint}";
    }

    /// <summary><c>host:port</c>, the host an IPv4 address, a name (or, to bind, an interface), or an IPv6 address in brackets.</summary>
    private static string? TcpProblem(string endpoint, string address, EndpointUse use)
    {
        if (address.Contains(';', StringComparison.Ordinal))
        {
            // libzmq's "source;destination" form: NetMQ has no such thing, and both transports must take the same endpoints.
            return $"'{endpoint}' names a source address (';'), which Courier does not support";
        }

        string host;
        string? port;
        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return $"'{endpoint}' has an IPv6 host without its closing ']'";
            }

            host = address[1..close];
            var rest = address[(close + 1)..];
            if (rest.Length > 0 && !rest.StartsWith(':'))
            {
                return $"'{endpoint}' has '{rest}' after its host where ':' and a port belong";
            }

            port = rest.Length > 0 ? rest[1..] : null;
        }
        else
        {
            var colon = address.LastIndexOf(':');
            host = colon < 0 ? address : address[..colon];
            port = colon < 0 ? null : address[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                return $"'{endpoint}' has an IPv6 host without brackets; write tcp://[{host}]:{port}";
            }
        }

        if (port is null || port.Length == 0)
        {
            var hint = use == EndpointUse.Bind ? " (or :* for any free port)" : "";
            return $"'{endpoint}' has no port; write tcp://{address.TrimEnd(':')}:{ExamplePort}{hint}";
        }

        if (host.Length == 0)
        {
            return use == EndpointUse.Bind
                ? $"'{endpoint}' has no host; write tcp://*:{port} for every interface, or tcp://127.0.0.1:{port} for this machine only"
                : $"'{endpoint}' has no host; write tcp://127.0.0.1:{port} or the name of the host to connect to";
        }

        return HostProblem(endpoint, host, port, address.StartsWith('['), use) ?? PortProblem(endpoint, port, use);
    }

    private static string? HostProblem(string endpoint, string host, string port, bool bracketed, EndpointUse use)
    {
        if (host == "*")
        {
            return use == EndpointUse.Bind
                ? null
                : $"'{endpoint}' connects to host '*', which only a bind takes (every interface); name the host, for example tcp://127.0.0.1:{port}";
        }

        // Names and addresses: letters, digits, '-', '.', '_' (Docker's service names have them); an IPv6 address
        // also ':' and a zone after '%'. Anything else is a typo neither transport would resolve.
        var valid = host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' || (bracketed && c is ':' or '%'));
        return valid ? null : $"'{endpoint}' has host '{host}', which is neither a name nor an address";
    }

    private static string? PortProblem(string endpoint, string port, EndpointUse use)
    {
        if (port is "*" or "0")
        {
            return use == EndpointUse.Bind
                ? null
                : $"'{endpoint}' connects to port {port}, which only a bind takes (any free port); name the server's port";
        }

        if (!port.All(char.IsAsciiDigit))
        {
            return $"'{endpoint}' has port '{port}', which is not a number from 1 to 65535";
        }

        // Leading zeros are taken as decimal by libzmq and NetMQ alike; only the value matters.
        var value = port.TrimStart('0');
        return value.Length is > 0 and <= 5 && int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) <= 65535
            ? null
            : $"'{endpoint}' has port {port}, outside 1-65535";
    }
}
