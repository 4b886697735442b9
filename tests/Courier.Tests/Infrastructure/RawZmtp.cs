using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Courier.Tests.Infrastructure;

/// <summary>Hand-written ZMTP 3.0 bytes, for sending what no well-behaved peer would.</summary>
public static class RawZmtp
{
    /// <summary>
    /// A NULL-mechanism greeting as a client, then a READY command declaring a <paramref name="socketType"/> socket; ZMTP
    /// 3.0, or 3.1 (which has PING and PONG) with <paramref name="minor"/> 1.
    /// </summary>
    public static byte[] GreetingAndReady(byte minor = 0, string socketType = "DEALER")
    {
        var bytes = new List<byte>();
        bytes.Add(0xFF);
        bytes.AddRange(new byte[8]);
        bytes.Add(0x7F);
        bytes.Add(3);
        bytes.Add(minor);
        var mechanism = new byte[20];
        "NULL"u8.CopyTo(mechanism);
        bytes.AddRange(mechanism);
        bytes.Add(0); // as-server: no
        bytes.AddRange(new byte[31]);

        var body = new List<byte> { 5 };
        body.AddRange("READY"u8.ToArray());
        body.Add(11);
        body.AddRange("Socket-Type"u8.ToArray());
        var type = Encoding.ASCII.GetBytes(socketType);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, type.Length);
        body.AddRange(length);
        body.AddRange(type);
        bytes.Add(0x04); // short command frame
        bytes.Add((byte)body.Count);
        bytes.AddRange(body);
        return [.. bytes];
    }

    /// <summary>The header of a long message frame claiming <paramref name="size"/> bytes, none of which follow.</summary>
    public static byte[] LongFrameHeader(long size)
    {
        var header = new byte[9];
        header[0] = 0x02;
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(1), size);
        return header;
    }

    /// <summary>
    /// An unversioned (ZMTP 1.0) peer: an empty identity frame, then a frame whose 0xFF length prefix claims
    /// <paramref name="size"/> bytes. NetMQ accepts such peers, and allocates the claimed size unless MaxMsgSize stops it.
    /// </summary>
    public static byte[] Zmtp10LongFrame(long size)
    {
        var bytes = new byte[2 + 1 + 8 + 1];
        bytes[0] = 1; // identity frame: length 1 (flags byte only), flags 0
        bytes[2] = 0xFF;
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(3), size);
        return bytes;
    }

    /// <summary>
    /// Connects a plain TCP socket, writes <paramref name="payload"/>, and returns all it reads for <paramref name="listen"/>,
    /// or until what it read satisfies <paramref name="until"/>.
    /// </summary>
    public static async Task<byte[]> SendAndListenAsync(int port, byte[] payload, TimeSpan listen, Func<byte[], bool>? until = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        return await SendAndListenAsync(client, payload, listen, until);
    }

    /// <summary>The same on a connection made already (one a listener of the test's accepted, say).</summary>
    public static async Task<byte[]> SendAndListenAsync(TcpClient client, byte[] payload, TimeSpan listen, Func<byte[], bool>? until = null)
    {
        var stream = client.GetStream();
        await stream.WriteAsync(payload);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(listen);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                received.Write(buffer, 0, read);
                if (until?.Invoke(received.ToArray()) == true)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return received.ToArray();
    }

    /// <summary>
    /// A plain TCP connection that has sent a greeting and READY (ZMTP 3.<paramref name="minor"/>) and read the
    /// listener's: libzmq 4.3 closes a connection whose first frames come in the same write as its greeting.
    /// </summary>
    public static async Task<TcpClient> GreetedAsync(int port, byte minor = 0)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            var received = await SendAndListenAsync(client, GreetingAndReady(minor), TimeSpan.FromSeconds(30), ContainsReady);
            Assert.True(ContainsReady(received), "the listener should have greeted");
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="received"/> holds a ZMTP 3.1 PING command (name length 4, then "PING").</summary>
    public static bool ContainsPing(byte[] received) => received.AsSpan().IndexOf("\u0004PING"u8) >= 0;

    /// <summary>Whether <paramref name="received"/> holds a READY command (the peer's side of the handshake).</summary>
    public static bool ContainsReady(byte[] received) => received.AsSpan().IndexOf("\u0005READY"u8) >= 0;

    /// <summary>Whether <paramref name="received"/> holds a ZMTP 3.1 PONG command.</summary>
    public static bool ContainsPong(byte[] received) => received.AsSpan().IndexOf("\u0004PONG"u8) >= 0;

    /// <summary>The TTL (deciseconds) of the first PING in <paramref name="received"/>: the two bytes after its name.</summary>
    public static int PingTtl(byte[] received)
    {
        var at = received.AsSpan().IndexOf("\u0004PING"u8) + 5;
        return BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(at, 2));
    }

    /// <summary>A ZMTP 3.1 PING command with no TTL and <paramref name="context"/>, which a PONG must echo.</summary>
    public static byte[] Ping(string context)
    {
        var body = new List<byte> { 4 };
        body.AddRange("PING"u8.ToArray());
        body.AddRange(new byte[2]);
        body.AddRange(Encoding.ASCII.GetBytes(context));
        return [0x04, (byte)body.Count, .. body];
    }

    /// <summary>Connects a plain TCP socket, writes <paramref name="payload"/>, and reads until the peer closes or a timeout.</summary>
    public static async Task<bool> SendAndSeeIfClosedAsync(int port, byte[] payload, TimeSpan wait)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(payload);
        }
        catch (IOException)
        {
            return true; // the peer already closed on us
        }

        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(wait);
        try
        {
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
