using BenchmarkDotNet.Attributes;
using Courier.Security;
using Courier.Security.Internal;

namespace Courier.Benchmarks;

/// <summary>
/// What the allow-list costs as it grows: a check of the directory (every certificate's time and size, links followed),
/// which runs on a pool thread while the listener is in use, and a lookup, which is what a handshake or a request pays.
/// </summary>
[MemoryDiagnoser]
public class AllowListBenchmarks
{
    private string _directory = "";
    private AllowList _allowList = null!;
    private string _known = "";

    [Params(10, 1_000, 10_000)]
    public int Certificates { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("courier-allowlist-bench-").FullName;
        for (var i = 0; i < Certificates; i++)
        {
            var certificate = CurveCertificate.Generate();
            File.WriteAllText(Path.Combine(_directory, $"peer{i:D5}.key"), CertificateFile.Format(certificate.PublicOnly(), secret: false));
            _known = certificate.PublicKey;
        }

        _allowList = new AllowList(_directory);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark]
    public int Check() => _allowList.Signature().Length;

    [Benchmark]
    public string? Lookup() => _allowList.NameOf(_known);
}
