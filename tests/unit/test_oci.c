// SPDX-License-Identifier: Apache-2.0
/* Placeholder until the module lands: reported as skipped. */
int main(void)
{
	return 77;
}
