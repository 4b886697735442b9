using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

[Collection(ContainerTestsDefinition.Name)]
public sealed class ComposeDownTests(ComposeFixture stack, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Down_leaves_no_container_network_or_volume_behind()
    {
        var story = await stack.StoryAsync(output);

        // Every profile's services were up (11 containers, the benches' own removed by --rm) on the project's network.
        Assert.Equal(11, story.BeforeDown.Containers.Length);
        Assert.NotEmpty(story.BeforeDown.Networks);
        Assert.Empty(story.LeftAfterDown.Containers);
        Assert.Empty(story.LeftAfterDown.Networks);
        Assert.Empty(story.LeftAfterDown.Volumes);
    }
}
