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

    /// <summary>
    /// Answers the liveness probe <paramref name="probe"/> (as a ROUTER read it: identity, "", header with the probe's id)
    /// with 200, speaking <paramref name="version"/> and naming <paramref name="incarnation"/>.
    /// </summary>
    public static void AnswerLiveness(NetMQSocket socket, List<byte[]> probe, string version, byte[] incarnation)
    {
        var answer = new byte[17];
        probe[2].AsSpan(0, 14).CopyTo(answer);
        "200"u8.CopyTo(answer.AsSpan(14));
        socket.SendMultipartMessage(new NetMQMessage([new NetMQFrame(probe[0]), NetMQFrame.Empty, new NetMQFrame(answer), new NetMQFrame(System.Text.Encoding.ASCII.GetBytes(version)), new NetMQFrame(incarnation)]));
    }

    /// <summary>Whether <paramref name="frames"/> (as a ROUTER reads them) are a client's protocol probe (<c>mmi.courier</c> offering a version).</summary>
    public static bool IsProtocolProbe(List<byte[]> frames) =>
        frames.Count >= 5 && System.Text.Encoding.ASCII.GetString(frames[3]) == "mmi.courier"
        && System.Text.Encoding.ASCII.GetString(frames[4]).StartsWith("courier/", StringComparison.Ordinal);

    /// <summary>
    /// The next message on <paramref name="socket"/> that <paramref name="matches"/>, others read and dropped; if none comes
    /// within <paramref name="within"/>, a failed assertion naming <paramref name="what"/>, or null when not
    /// <paramref name="required"/>.
    /// </summary>
    public static List<byte[]>? Next(RouterSocket socket, Func<List<byte[]>, bool> matches, string what, TimeSpan within, bool required = true)
    {
        var deadline = DateTime.UtcNow + within;
        var frames = new List<byte[]>();
        while (DateTime.UtcNow < deadline)
        {
            if (socket.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(100), ref frames) && matches(frames))
            {
                return frames;
            }
        }

        Assert.False(required, $"not seen within {within}: {what}");
        return null;
    }

    /// <summary>The next message that <paramref name="matches"/> on any of <paramref name="sockets"/>, and which one it came to.</summary>
    public static (RouterSocket Socket, List<byte[]> Frames) NextOfAny(RouterSocket[] sockets, Func<List<byte[]>, bool> matches, string what, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var socket in sockets)
            {
                if (Next(socket, matches, what, TimeSpan.FromMilliseconds(100), required: false) is { } frames)
                {
                    return (socket, frames);
                }
            }
        }

        Assert.Fail($"not seen within {within}: {what}");
        return default;
    }
}
