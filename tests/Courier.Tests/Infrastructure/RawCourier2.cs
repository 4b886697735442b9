using System.Buffers.Binary;
using System.Text;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>courier/2 requests written by hand from docs/protocol.md, on a DEALER that reads nothing: an attacker's.</summary>
internal static class RawCourier2
{
    /// <summary>A DEALER that reads nothing: a one-message receive queue, a small kernel buffer, no send limit.</summary>
    public static DealerSocket NonReader(string endpoint)
    {
        var socket = new DealerSocket();
        socket.Options.ReceiveHighWatermark = 1;
        socket.Options.ReceiveBuffer = 16 * 1024;
        socket.Options.SendHighWatermark = 0;
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(endpoint);
        return socket;
    }

    /// <summary>A request's header frame: <c>CURC02</c>, the 8-byte id, the service.</summary>
    public static byte[] Header(ulong id, string service = "echo")
    {
        var header = new byte[14 + service.Length];
        "CURC02"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(6), id);
        Encoding.ASCII.GetBytes(service, header.AsSpan(14));
        return header;
    }
}
