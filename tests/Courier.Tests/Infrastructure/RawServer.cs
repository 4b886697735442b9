using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>A server or broker played frame by frame on a ROUTER, for a real client: bound on loopback, it answers probes as told.</summary>
internal static class RawServer
{
    /// <summary>A ROUTER on a loopback port the kernel picks (<paramref name="configure"/> sets options before the bind).</summary>
    public static RouterSocket Bind(out string endpoint, Action<SocketOptions>? configure = null)
    {
        var socket = new RouterSocket();
        socket.Options.Linger = TimeSpan.Zero;
        configure?.Invoke(socket.Options);
        endpoint = $"tcp://127.0.0.1:{socket.BindRandomPort("tcp://127.0.0.1")}";
        return socket;
    }

    /// <summary>
    /// Answers the protocol probe of the client <paramref name="identity"/> (<c>"", MDPC01, mmi.courier, 200, version</c>,
    /// then <paramref name="incarnation"/> when given: 8 bytes naming this start of the peer).
    /// </summary>
    public static void AnswerProbe(RouterSocket socket, byte[] identity, string version, byte[]? incarnation = null)
    {
        var answer = new NetMQMessage();
        answer.Append(identity);
        answer.AppendEmptyFrame();
        answer.Append("MDPC01"u8.ToArray());
        answer.Append("mmi.courier"u8.ToArray());
        answer.Append("200"u8.ToArray());
        answer.Append(System.Text.Encoding.ASCII.GetBytes(version));
        if (incarnation is not null)
        {
            answer.Append(incarnation);
        }

        socket.SendMultipartMessage(answer);
    }
}
