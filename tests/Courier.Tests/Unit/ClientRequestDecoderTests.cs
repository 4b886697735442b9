using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

public sealed class ClientRequestDecoderTests
{
    private static byte[][] Frames(params string[] frames) => [.. frames.Select(Encoding.UTF8.GetBytes)];

    /// <summary>Decodes a lone request; null when it is unroutable.</summary>
    private static InboundRequest? Decode(byte[][] frames)
    {
        var request = new InboundRequest(reuseArrays: false);
        return ClientRequestDecoder.TryDecode(frames, request, "echo", out _) ? request : null;
    }

    /// <summary>What one reply puts on the wire, each frame as text.</summary>
    private static List<string> Sent(Action<ClientReplyWriter> reply)
    {
        var socket = new RecordingSocket();
        reply(new ClientReplyWriter(socket));
        return [.. socket.Sent.Single().Select(f => Encoding.UTF8.GetString(f))];
    }

    private sealed class RecordingSocket : Courier.Transport.Internal.ITransportSocket
    {
        public List<byte[][]> Sent { get; } = [];

        public string Bind(string endpoint) => endpoint;

        public void Connect(string endpoint)
        {
        }

        public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
        {
            var copy = new byte[frames.Length][];
            for (var i = 0; i < frames.Length; i++)
            {
                copy[i] = frames[i].ToArray();
            }

            Sent.Add(copy);
            return true;
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public void Courier_request_keeps_its_envelope_and_names_its_service()
    {
        var request = Decode(Frames("peer", "hop", "", "CURC02req-0001echo", "body"))!;

        Assert.Equal(2, request.Route.EnvelopeLength);
        Assert.Equal(ClientFraming.Courier, request.Route.Framing);
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian("req-0001"u8), request.Route.RequestId);
        Assert.Equal("echo", request.Service);
        Assert.Equal("body", Encoding.UTF8.GetString(request.Body(0).Span));
        Assert.Equal(1, request.BodyCount);
    }

    [Fact]
    public void Services_asked_one_after_another_are_each_named_right_and_a_bad_name_is_still_refused()
    {
        string? Service(string name) => Decode(Frames("peer", "", "MDPC01", name, "x"))!.Service;

        Assert.Equal("alpha", Service("alpha"));
        Assert.Equal("alpha", Service("alpha"));
        Assert.Equal("beta", Service("beta"));
        Assert.Equal("alpha", Service("alpha"));
        Assert.Null(Service("bad\u0001name"));
        Assert.Equal("alpha", Service("alpha"));
    }

    [Fact]
    public void Mdp_request_is_recognised_by_its_header()
    {
        var request = Decode(Frames("peer", "", "MDPC01", "svc", "a", "b"))!;

        Assert.Equal(ClientFraming.Mdp, request.Route.Framing);
        Assert.Equal("svc", request.Service);
        Assert.Equal(["a", "b"], request.BodyArray().Select(f => Encoding.UTF8.GetString(f.Span)));
    }

    [Fact]
    public void Req_request_without_a_header_goes_to_the_default_service()
    {
        var request = Decode(Frames("peer", "", "hello"))!;

        Assert.Equal(ClientFraming.Plain, request.Route.Framing);
        Assert.Equal(1, request.Route.EnvelopeLength);
        Assert.Equal("echo", request.Service);
        Assert.Equal("hello", Encoding.UTF8.GetString(request.Body(0).Span));
    }

    [Fact]
    public void Message_without_a_delimiter_is_unroutable()
    {
        Assert.Null(Decode(Frames("peer", "x", "y")));
    }

    [Fact]
    public void Envelope_deeper_than_the_limit_is_unroutable()
    {
        var frames = Enumerable.Repeat("hop", ClientRequestDecoder.MaxEnvelopeFrames + 1).Append("").Append("MDPC01").Append("echo").ToArray();

        Assert.Null(Decode(Frames(frames)));
    }

    [Fact]
    public void Missing_service_frame_is_an_error()
    {
        var request = Decode(Frames("peer", "", "MDPC01"))!;

        Assert.Null(request.Service);
        Assert.Contains("missing service", request.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CURC02")]
    [InlineData("CURC02req-0001")]
    [InlineData("CURC02req-0001tab\there")]
    public void Courier_header_without_request_id_and_valid_service_is_an_error(string header)
    {
        var request = Decode(Frames("peer", "", header))!;

        Assert.Equal(ClientFraming.Courier, request.Route.Framing);
        Assert.Null(request.Service);
        Assert.Contains("malformed Courier header", request.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("tab\there")]
    public void Unprintable_or_empty_service_name_is_an_error(string service)
    {
        Assert.NotNull(Decode(Frames("peer", "", "MDPC01", service))!.Error);
    }

    [Fact]
    public void Service_name_that_is_not_utf8_is_an_error()
    {
        byte[][] frames = [.. Frames("peer", "", "MDPC01"), [0xC3, 0x28]];

        Assert.NotNull(Decode(frames)!.Error);
    }

    [Fact]
    public void Courier_error_reply_carries_request_id_and_status_in_its_header_and_the_message_after()
    {
        var request = Decode(Frames("peer", "hop", "", "CURC02req-0001svc", "x"))!;

        var reply = Sent(writer => writer.Error(request.Route, CourierStatus.NotFound, "nope"));

        Assert.Equal(["peer", "hop", "", "CURC02req-0001404", "nope"], reply);
    }

    [Fact]
    public void Req_reply_to_an_empty_request_still_has_a_frame_after_the_delimiter()
    {
        var request = Decode(Frames("peer", ""))!;

        var reply = Sent(writer => writer.Reply(request.Route, []));

        Assert.Equal(["peer", "", ""], reply);
    }

    [Fact]
    public void Mdp_error_reply_echoes_header_and_service_and_carries_status_then_message()
    {
        var request = Decode(Frames("peer", "", "MDPC01", "svc", "x"))!;

        var reply = Sent(writer => writer.Error(request.Route, CourierStatus.Unavailable, "busy"));

        Assert.Equal(["peer", "", "MDPC01", "svc", "503", "busy"], reply);
    }

    [Fact]
    public void Only_a_cancel_frame_right_after_the_envelopes_delimiter_is_a_cancel()
    {
        static Courier.Transport.Internal.MessageFrames Message(params byte[][] frames)
        {
            var message = new Courier.Transport.Internal.MessageFrames();
            foreach (var frame in frames)
            {
                message.Append(frame);
            }

            return message;
        }

        var cancel = CourierFrame5.CancelFrame(7, new ClientIdentity(1, 2));
        byte[] peer = [1, 2, 3], hop = [9], empty = [];

        Assert.True(ClientRequestDecoder.IsCancel(Message(peer, empty, cancel)));
        Assert.True(ClientRequestDecoder.IsCancel(Message(peer, hop, empty, cancel)));
        // A REQ body "x", "", cancel-shaped; a 7/MDP request's body ending so: requests, to be answered.
        Assert.False(ClientRequestDecoder.IsCancel(Message(peer, empty, "x"u8.ToArray(), empty, cancel)));
        Assert.False(ClientRequestDecoder.IsCancel(Message(peer, empty, "MDPC01"u8.ToArray(), "echo"u8.ToArray(), empty, cancel)));
        Assert.False(ClientRequestDecoder.IsCancel(Message(peer, empty, cancel[..30])));
    }

    [Theory]
    [InlineData("200", 200)]
    [InlineData("404", 404)]
    [InlineData("20", -1)]
    [InlineData("2x0", -1)]
    public void Status_frames_are_three_ascii_digits(string frame, int expected)
    {
        Assert.Equal(expected, StatusFrames.Parse(Encoding.ASCII.GetBytes(frame)));
    }
}
