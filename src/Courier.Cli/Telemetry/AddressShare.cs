using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Courier.Cli.Telemetry;

/// <summary>
/// At most <paramref name="max"/> connections at once from one peer address (an IPv6 peer's /64, which one host holds
/// whole): past it a connection is closed at once. Without it one peer holding the endpoint's every connection (each
/// kept alive by a request every few seconds) would shut the scrapers out.
/// </summary>
internal sealed class AddressShare(int max)
{
    private readonly Dictionary<UInt128, int> _open = [];

    /// <summary>Kestrel connection middleware: <c>listenOptions.Use(share.Limit)</c>.</summary>
    public ConnectionDelegate Limit(ConnectionDelegate next) => async connection =>
    {
        if (connection.RemoteEndPoint is not IPEndPoint remote)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        var key = KeyOf(remote.Address);
        lock (_open)
        {
            var open = _open.GetValueOrDefault(key);
            if (open >= max)
            {
                connection.Abort();
                return;
            }

            _open[key] = open + 1;
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            lock (_open)
            {
                if (--_open[key] == 0)
                {
                    _open.Remove(key);
                }
            }
        }
    };

    /// <summary>An IPv4 address (mapped into IPv6 or not) whole; an IPv6 address by its /64.</summary>
    internal static UInt128 KeyOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        // IPv4 in the low half with bit 32 set; an IPv6 /64 in the high half, its low half zero: never the same key.
        return written == 4
            ? new UInt128(0, (1UL << 32) | System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : new UInt128(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes), 0);
    }
}
