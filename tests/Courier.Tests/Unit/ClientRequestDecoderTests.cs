using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

public sealed class ServerRequestParserTests
{
    private static List<byte[]> Frames(params string[] frames) => frames.Select(Encoding.UTF8.GetBytes).ToList();

    [Fact]
    public void Courier_request_keeps_its_envelope_and_names_its_service()
    {
        var parsed = ServerRequestParser.Parse(Frames("peer", "hop", "", "CURC02req-0001echo", "body"), "echo");

        Assert.Equal(new ParsedRequest(2, RequestKind.Courier, "echo", 4, null), parsed);
    }

    [Fact]
    public void Services_asked_one_after_another_are_each_named_right_and_a_bad_name_is_still_refused()
    {
        string? Service(string name) => ServerRequestParser.Parse(Frames("peer", "", "MDPC01", name, "x"), "echo").Service;

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
        var parsed = ServerRequestParser.Parse(Frames("peer", "", "MDPC01", "svc", "a", "b"), "echo");

        Assert.Equal(RequestKind.Mdp, parsed.Kind);
        Assert.Equal("svc", parsed.Service);
        Assert.Equal(4, parsed.BodyStart);
    }

    [Fact]
    public void Req_request_without_a_header_goes_to_the_default_service()
    {
        var parsed = ServerRequestParser.Parse(Frames("peer", "", "hello"), "echo");

        Assert.Equal(new ParsedRequest(1, RequestKind.Plain, "echo", 2, null), parsed);
    }

    [Fact]
    public void Message_without_a_delimiter_is_unroutable()
    {
        Assert.True(ServerRequestParser.Parse(Frames("peer", "x", "y"), "echo").Unroutable);
    }

    [Fact]
    public void Envelope_deeper_than_the_limit_is_unroutable()
    {
        var frames = Enumerable.Repeat("hop", ServerRequestParser.MaxEnvelopeFrames + 1).Append("").Append("MDPC01").Append("echo").ToArray();

        Assert.True(ServerRequestParser.Parse(Frames(frames), "echo").Unroutable);
    }

    [Fact]
    public void Missing_service_frame_is_an_error()
    {
        var parsed = ServerRequestParser.Parse(Frames("peer", "", "MDPC01"), "echo");

        Assert.Null(parsed.Service);
        Assert.Contains("missing service", parsed.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CURC02")]
    [InlineData("CURC02req-0001")]
    [InlineData("CURC02req-0001tab\there")]
    public void Courier_header_without_request_id_and_valid_service_is_an_error(string header)
    {
        var parsed = ServerRequestParser.Parse(Frames("peer", "", header), "echo");

        Assert.Equal(RequestKind.Courier, parsed.Kind);
        Assert.Null(parsed.Service);
        Assert.Contains("malformed Courier header", parsed.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("tab\there")]
    public void Unprintable_or_empty_service_name_is_an_error(string service)
    {
        var parsed = ServerRequestParser.Parse(Frames("peer", "", "MDPC01", service), "echo");

        Assert.NotNull(parsed.Error);
    }

    [Fact]
    public void Service_name_that_is_not_utf8_is_an_error()
    {
        var frames = Frames("peer", "", "MDPC01");
        frames.Add([0xC3, 0x28]);

        Assert.NotNull(ServerRequestParser.Parse(frames, "echo").Error);
    }

    [Fact]
    public void Courier_error_reply_carries_request_id_and_status_in_its_header_and_the_message_after()
    {
        var request = Frames("peer", "hop", "", "CURC02req-0001svc", "x");
        var parsed = ServerRequestParser.Parse(request, "echo");

        var reply = ReplyBuilder.Error(request, parsed, CourierStatus.NotFound, "nope").Select(f => Encoding.UTF8.GetString(f.Span));

        Assert.Equal(["peer", "hop", "", "CURC02req-0001404", "nope"], reply);
    }

    [Fact]
    public void Req_reply_to_an_empty_request_still_has_a_frame_after_the_delimiter()
    {
        var request = Frames("peer", "");
        var parsed = ServerRequestParser.Parse(request, "echo");

        var reply = ReplyBuilder.Success(request, parsed, []);

        Assert.Equal(3, reply.Length);
        Assert.True(reply[2].IsEmpty);
    }

    [Theory]
    [InlineData("200", 200)]
    [InlineData("404", 404)]
    [InlineData("20", -1)]
    [InlineData("2x0", -1)]
    public void Status_frames_are_three_ascii_digits(string frame, int expected)
    {
        Assert.Equal(expected, Mdp.ParseStatus(Encoding.ASCII.GetBytes(frame)));
    }
}
