using System.Text;
using BenchmarkDotNet.Attributes;
using Courier.Protocol.Internal;

namespace Courier.Benchmarks;

/// <summary>The per-request protocol work on a server or broker: parse a request, build its reply.</summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly byte[][] _courierRequest = [[0, 1, 2, 3, 4], [], CourierFrame.Request(7, "echo"u8), new byte[64]];

    private readonly byte[][] _mdpRequest = [[0, 1, 2, 3, 4], [], Mdp.ClientHeader, Encoding.ASCII.GetBytes("echo"), new byte[64]];
    private readonly InboundRequest _request = new(reuseArrays: false);
    private readonly ClientReplyWriter _writer = new(new DiscardingSocket());

    [Benchmark]
    public int DecodeCourierRequest() => ClientRequestDecoder.TryDecode(_courierRequest, _request, "echo", out _) ? _request.BodyCount : -1;

    [Benchmark]
    public int DecodeMdpRequest() => ClientRequestDecoder.TryDecode(_mdpRequest, _request, "echo", out _) ? _request.BodyCount : -1;

    /// <summary>Encoding a Courier reply by the request's route (the transport's copy excluded: the socket discards).</summary>
    [Benchmark]
    public bool EncodeCourierReply()
    {
        ClientRequestDecoder.TryDecode(_courierRequest, _request, "echo", out _);
        return _writer.Reply(_request.Route, [_request.Body(0)]);
    }

    private sealed class DiscardingSocket : Courier.Transport.Internal.ITransportSocket
    {
        public string Bind(string endpoint) => endpoint;

        public void Connect(string endpoint)
        {
        }

        public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames) => true;

        public void Dispose()
        {
        }
    }

    [Benchmark]
    public int ParseStatus() => StatusFrames.Parse("200"u8);

    private readonly BatchWriter _batch = new(Batch.ClientRequest);
    private readonly byte[] _payload = new byte[64];
    private byte[] _fullBatch = [];

    [GlobalSetup(Target = nameof(ReadBatchOf50))]
    public void SetupBatch()
    {
        WriteBatchOf50();
        _fullBatch = _batch.Frame.ToArray();
    }

    /// <summary>Packing 50 requests of 64 bytes, as a client does under load (docs/protocol.md §6).</summary>
    [Benchmark(OperationsPerInvoke = 50)]
    public int WriteBatchOf50()
    {
        _batch.Reset();
        for (var i = 0; i < 50; i++)
        {
            _batch.TryAdd((ulong)i, "echo"u8, _payload);
        }

        return _batch.Frame.Length;
    }

    /// <summary>Reading them back, as a broker or server does.</summary>
    [Benchmark(OperationsPerInvoke = 50)]
    public int ReadBatchOf50()
    {
        var reader = new BatchReader(_fullBatch);
        var total = 0;
        while (reader.TryRead(out var record))
        {
            total += record.Body.Length;
        }

        return total;
    }
}
