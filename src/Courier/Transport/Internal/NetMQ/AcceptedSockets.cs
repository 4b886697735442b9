using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using AsyncIO;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// The operating system's side of a connection NetMQ accepted. NetMQ's monitor hands out AsyncIO's socket, which on
/// Linux wraps a .NET <see cref="Socket"/> in a private field and exposes neither shutdown(2) nor raw options; the
/// field is read once per connection (AsyncIO is kept whole by trimming: it is not annotated for it).
/// </summary>
internal static class AcceptedSockets
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;
    // struct tcp_info (linux/tcp.h): __u64 tcpi_bytes_received at offset 128, since Linux 4.1.
    private const int BytesReceivedOffset = 128;

    // One type in practice (AsyncIO's DotNet.NativeSocket); read and written whole, as loops on other threads share it.
    private static volatile Accessor? _accessor;

    /// <summary>The .NET socket inside <paramref name="connection"/>, or null where AsyncIO keeps none (Windows).</summary>
    public static Socket? SocketOf(AsyncSocket connection)
    {
        var type = connection.GetType();
        var accessor = _accessor;
        if (accessor?.Owner != type)
        {
            var field = type.GetField("m_socket", BindingFlags.Instance | BindingFlags.NonPublic);
            _accessor = accessor = new Accessor(type, field?.FieldType == typeof(Socket) ? field : null);
        }

        return accessor.Field?.GetValue(connection) as Socket;
    }

    /// <summary>
    /// The bytes the kernel has received on <paramref name="socket"/> (TCP_INFO), or null when it cannot tell: no
    /// socket, closed, not Linux, or a kernel too old to count them.
    /// </summary>
    public static long? BytesReceived(Socket? socket)
    {
        if (socket is null || !OperatingSystem.IsLinux())
        {
            return null;
        }

        Span<byte> info = stackalloc byte[256];
        try
        {
            var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
            return length >= BytesReceivedOffset + sizeof(ulong)
                ? (long)MemoryMarshal.Read<ulong>(info[BytesReceivedOffset..])
                : null;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    private sealed record Accessor(Type Owner, FieldInfo? Field);
}
