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
/// taken at the following connect). A connect that finds no address (the lookup is slow, or another connect's is under
/// way) connects when the lookup answers; a name that does not resolve connects nowhere, and the owner's own timeouts (a
/// client's probe, a worker's heartbeat liveness) replace the socket, with a fresh lookup. IPv4, as both transports
/// connect by default; the first address found, as libzmq takes.
/// </remarks>
internal sealed class HostResolver(Func<string, Task<IPAddress[]>> lookup, TimeSpan firstWait, TimeSpan refreshWait)
{
    private readonly ConcurrentDictionary<string, Host> _hosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The process's resolver: the system's lookup (getaddrinfo, off the caller's thread), IPv4 only.</summary>
    public static HostResolver Shared { get; } = new(
        static name => Dns.GetHostAddressesAsync(name, AddressFamily.InterNetwork), TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(100));

    /// <summary>
    /// What to connect a socket to for <paramref name="endpoint"/>: itself unless it names a host by name, else the same
    /// endpoint with the host's address; null when the name has no address yet: then <paramref name="whenResolved"/>
    /// gets the endpoint to connect to once the lookup under way finds one (on a thread of the lookup's), if it does.
    /// </summary>
    public string? ForConnect(string endpoint, Action<string>? whenResolved = null)
    {
        if (!TryName(endpoint, out var name, out var port))
        {
            return endpoint;
        }

        var host = _hosts.GetOrAdd(name, static n => new Host(n));
        if (host.Resolve(lookup, firstWait, refreshWait, out var pending) is { } address)
        {
            return $"tcp://{address}:{port}";
        }

        if (whenResolved is not null)
        {
            _ = pending.ContinueWith(
                _ =>
                {
                    if (host.Address is { } found)
                    {
                        whenResolved($"tcp://{found}:{port}");
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return null;
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
        private Task _lookup = Task.CompletedTask;

        public IPAddress? Address
        {
            get
            {
                lock (_lock)
                {
                    return _address;
                }
            }
        }

        /// <summary>The address to connect to now, if any; <paramref name="pending"/> is the lookup that may still find one.</summary>
        public IPAddress? Resolve(Func<string, Task<IPAddress[]>> lookup, TimeSpan firstWait, TimeSpan refreshWait, out Task pending)
        {
            IPAddress? known;
            lock (_lock)
            {
                known = _address;
                if (!_lookup.IsCompleted)
                {
                    // A slow lookup is waited for by one connect only: the others take what is known, or connect later.
                    pending = _lookup;
                    return known;
                }

                pending = _lookup = LookUpAsync(lookup);
            }

            // Blocks the caller's loop for a moment at most; the lookup itself runs on, and stores what it finds.
            pending.Wait(known is null ? firstWait : refreshWait);
            return Address;
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
