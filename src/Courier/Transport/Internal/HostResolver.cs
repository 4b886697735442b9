using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Courier.Transport.Internal;

/// <summary>
/// Host names of <c>tcp://</c> endpoints, resolved off the transports' threads. libzmq resolves a name on its I/O thread,
/// synchronously, at every connect and every reconnect: a name that is slow to fail stalls every connection of that
/// thread, the live ones too. On podman's network a killed container's name took 30 s to fail; a worker serving two
/// brokers went silent on the live one while it reconnected to the dead one, and the live broker gave its requests up.
/// So a socket is handed an address, never a name: the last one found, looked up again at each connect.
/// </summary>
/// <remarks>
/// One lookup per name at a time. A connect waits for it at most <c>firstWait</c> when no address is known yet and
/// <c>refreshWait</c> when one is (then the known one is used if the lookup is slower: a restarted peer's new address is
/// taken at the following connect). A name never resolved connects nowhere, and the owner's own timeouts (a client's
/// probe, a worker's heartbeat liveness) replace the socket, with a fresh lookup. IPv4, as both transports connect by
/// default; the first address found, as libzmq takes.
/// </remarks>
internal sealed class HostResolver(Func<string, Task<IPAddress[]>> lookup, TimeSpan firstWait, TimeSpan refreshWait)
{
    private readonly ConcurrentDictionary<string, Host> _hosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The process's resolver: the system's lookup (getaddrinfo, on a thread of its own).</summary>
    public static HostResolver Shared { get; } = new(Dns.GetHostAddressesAsync, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));

    /// <summary>
    /// What to connect a socket to for <paramref name="endpoint"/>: itself unless it names a host by name, else the same
    /// endpoint with the host's address; null when the name has no address yet (connect nowhere for now).
    /// </summary>
    public string? ForConnect(string endpoint)
    {
        if (!TryName(endpoint, out var host, out var port))
        {
            return endpoint;
        }

        var address = _hosts.GetOrAdd(host, static name => new Host(name)).Resolve(lookup, firstWait, refreshWait);
        return address is null ? null : $"tcp://{address}:{port}";
    }

    /// <summary>Whether <paramref name="endpoint"/> is <c>tcp://NAME:PORT</c> with a name, not an address.</summary>
    internal static bool TryName(string endpoint, out string host, out string port)
    {
        host = port = "";
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal))
        {
            return false;
        }

        var address = endpoint["tcp://".Length..];
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || address.StartsWith('[') || address.Contains(';', StringComparison.Ordinal))
        {
            return false;
        }

        host = address[..colon];
        port = address[(colon + 1)..];
        return host != "*" && !IPAddress.TryParse(host, out _);
    }

    /// <summary>One name: its last address and the lookup in progress.</summary>
    private sealed class Host(string name)
    {
        private readonly Lock _lock = new();
        private IPAddress? _address;
        private Task? _lookup;

        public IPAddress? Resolve(Func<string, Task<IPAddress[]>> lookup, TimeSpan firstWait, TimeSpan refreshWait)
        {
            Task running;
            bool known;
            lock (_lock)
            {
                if (_lookup is { IsCompleted: false })
                {
                    // A slow lookup is waited for by one connect only: the others take what is known.
                    return _address;
                }

                known = _address is not null;
                running = _lookup = LookUpAsync(lookup);
            }

            // Blocks the caller's loop for a moment at most; the lookup itself runs on, and stores what it finds.
            running.Wait(known ? refreshWait : firstWait);
            lock (_lock)
            {
                return _address;
            }
        }

        private async Task LookUpAsync(Func<string, Task<IPAddress[]>> lookup)
        {
            try
            {
                var found = await Task.Run(() => lookup(name)).ConfigureAwait(false);
                if (Array.Find(found, a => a.AddressFamily == AddressFamily.InterNetwork) is { } address)
                {
                    lock (_lock)
                    {
                        _address = address;
                    }
                }
            }
#pragma warning disable CA1031 // A failed lookup leaves the last address known; the next connect looks again.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }
}
