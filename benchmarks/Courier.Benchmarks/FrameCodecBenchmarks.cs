using System.Text;
using BenchmarkDotNet.Attributes;
using Courier.Protocol.Internal;

namespace Courier.Benchmarks;

/// <summary>The per-request protocol work on a server or broker: parse a request, build its reply.</summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly List<byte[]> _courierRequest = [[0, 1, 2, 3, 4], [], Mdp.CourierRequestHeader(7, "echo"u8), new byte[64]];

    private readonly List<byte[]> _mdpRequest = [[0, 1, 2, 3, 4], [], Mdp.ClientHeader, Encoding.ASCII.GetBytes("echo"), new byte[64]];
    private IReadOnlyList<ReadOnlyMemory<byte>> _body = [];
    private ParsedRequest _parsed;

    [GlobalSetup]
    public void Setup()
    {
        _parsed = ServerRequestParser.Parse(_courierRequest, "echo");
        _body = Frames.From(_courierRequest, _parsed.BodyStart);
    }

    [Benchmark]
    public int ParseCourierRequest() => ServerRequestParser.Parse(_courierRequest, "echo").BodyStart;

    [Benchmark]
    public int ParseMdpRequest() => ServerRequestParser.Parse(_mdpRequest, "echo").BodyStart;

    [Benchmark]
    public ReadOnlyMemory<byte>[] BuildCourierReply() => ReplyBuilder.Success(_courierRequest, _parsed, _body);

    [Benchmark]
    public int ParseStatus() => Mdp.ParseStatus("200"u8);
}
