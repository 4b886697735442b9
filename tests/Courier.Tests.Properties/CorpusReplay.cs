using Courier.Fuzz;

namespace Courier.Tests.Properties;

/// <summary>
/// Every input in the fuzz corpus (tests/Courier.Fuzz/corpus: the seeds, what afl found interesting, and every crash
/// once fixed) replayed through its target, bytes-out bound included: what was found stays fixed.
/// </summary>
public sealed class CorpusReplay
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        var corpus = Path.Combine(RepoRoot(), "tests", "Courier.Fuzz", "corpus");
        foreach (var target in FuzzTarget.All)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(corpus, target.Name)).Order(StringComparer.Ordinal))
            {
                data.Add(target.Name, Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_corpus_input_runs_within_bounds(string target, string file)
    {
        var path = Path.Combine(RepoRoot(), "tests", "Courier.Fuzz", "corpus", target, file);
        FuzzTarget.Named(target).Run(File.ReadAllBytes(path));
    }

    [Fact]
    public void Every_target_has_seeds()
    {
        var corpus = Path.Combine(RepoRoot(), "tests", "Courier.Fuzz", "corpus");
        Assert.All(FuzzTarget.All, t => Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(corpus, t.Name))));
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Courier.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Courier.slnx not found above " + AppContext.BaseDirectory);
    }
}
